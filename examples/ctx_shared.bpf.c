// A kprobe and a perf_event program share one global subprogram whose argument is
// the program context (__arg_ctx). Kernels before 6.9 need the loader's fallback.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define __arg_ctx __attribute__((btf_decl_tag("arg:ctx")))

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

__noinline int record_hit(void *ctx __arg_ctx, __u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
	return bpf_get_smp_processor_id() >= 0;
}

SEC("kprobe/do_nanosleep")
int on_nanosleep(struct pt_regs *regs)
{
	return record_hit(regs, 0);
}

SEC("perf_event")
int on_cpu_clock(struct bpf_perf_event_data *ctx)
{
	return record_hit(ctx, 1);
}

char LICENSE[] SEC("license") = "GPL";
