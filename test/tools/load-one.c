// Usage: load-one OBJ PROG PIN
//
// Loads one program of a BPF object with libbpf (the 1.5 that scripts/build-refs.sh builds; test/refs.ts
// compiles this against it): every other program's autoload off, as bpf_program__set_autoload
// allows, then pins that program at PIN so the test reads it back through bpftool. Exit 0 when it
// loaded; 1 when libbpf refused the object (its messages on stderr); 2 on a usage error.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_program *p, *want = NULL;
	struct bpf_object *obj;
	int err;

	if (argc != 4) {
		fprintf(stderr, "usage: %s OBJ PROG PIN\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "load-one: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(p, obj) {
		if (strcmp(bpf_program__name(p), argv[2]) == 0)
			want = p;
		else
			bpf_program__set_autoload(p, false);
	}
	if (!want) {
		fprintf(stderr, "load-one: %s has no program %s\n", argv[1], argv[2]);
		bpf_object__close(obj);
		return 2;
	}
	err = bpf_object__load(obj);
	if (!err)
		err = bpf_program__pin(want, argv[3]);
	if (err)
		fprintf(stderr, "load-one: %s: %s\n", argv[2], strerror(-err));
	bpf_object__close(obj);
	return err ? 1 : 0;
}
