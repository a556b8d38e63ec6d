// Reports every exec through a ring buffer, reading task fields with CO-RE so the same
// object runs on kernels whose task_struct layout differs.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u64 start_ns;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

const volatile __u32 target_ppid = 0;

/* A local variable's type is not in the object's BTF; this one puts the record type there, so
 * tools can decode the ring buffer's records (BPF Lens's Events panel shows its fields). */
const volatile struct exec_event exec_event_type = {};

SEC("tp_btf/sched_process_exec")
int handle_exec(u64 *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct exec_event *e;
	__u32 ppid = BPF_CORE_READ(task, real_parent, tgid);

	if (target_ppid && ppid != target_ppid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(struct exec_event), 0);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(task, tgid);
	e->ppid = ppid;
	e->start_ns = BPF_CORE_READ(task, start_time);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
