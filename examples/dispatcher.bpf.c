// A tc dispatcher that tail-calls into per-protocol handlers through a prog-array
// whose slots are filled at load time, and counts verdicts in a pinned map.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} verdicts SEC(".maps");

static __always_inline void count(__u32 verdict)
{
	__u64 *v = bpf_map_lookup_elem(&verdicts, &verdict);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tc")
int handle_small(struct __sk_buff *skb)
{
	count(TC_ACT_OK);
	return TC_ACT_OK;
}

SEC("tc")
int handle_large(struct __sk_buff *skb)
{
	count(TC_ACT_SHOT);
	return TC_ACT_SHOT;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (void *));
} handlers SEC(".maps") = {
	.values = {
		[0] = (void *)&handle_small,
		[1] = (void *)&handle_large,
	},
};

SEC("tc")
int dispatch(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &handlers, skb->len > 1000);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
