// SPDX-License-Identifier: GPL-2.0
/*
 * bpf_lens_testmod: registers the struct_ops type `struct bpf_lens_testmod_ops`, which exists
 * only in this module's BTF, so BPF Lens can be tested loading struct_ops maps and programs of
 * a module type (value type and attach type in module BTF, 6.9+). Modelled on the kernel's
 * bpf_testmod. When a map of this type registers, reg() calls its ops and appends what they
 * returned to the read-only parameter `log` (/sys/module/bpf_lens_testmod/parameters/log):
 *   "reg magic=<magic> op1=<lens_op_1()> op2=<lens_op_2(20, 22)>;"  and  "unreg magic=<magic>;"
 */
#include <linux/bpf.h>
#include <linux/btf.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/string.h>

struct bpf_lens_testmod_ops {
	int (*lens_op_1)(void);
	int (*lens_op_2)(int a, int b);
	/* plain data, copied from the map value by init_member */
	int magic;
};

static char lens_log[512];
module_param_string(log, lens_log, sizeof(lens_log), 0444);
MODULE_PARM_DESC(log, "registrations and what the BPF ops returned");
static DEFINE_MUTEX(log_lock);

static void log_append(const char *fmt, ...)
{
	size_t len;
	va_list ap;

	mutex_lock(&log_lock);
	len = strlen(lens_log);
	va_start(ap, fmt);
	vscnprintf(lens_log + len, sizeof(lens_log) - len, fmt, ap);
	va_end(ap);
	mutex_unlock(&log_lock);
}

static int lens_reg(void *kdata, struct bpf_link *link)
{
	struct bpf_lens_testmod_ops *ops = kdata;
	int op1 = ops->lens_op_1 ? ops->lens_op_1() : -1;
	int op2 = ops->lens_op_2 ? ops->lens_op_2(20, 22) : -1;

	log_append("reg magic=%d op1=%d op2=%d;", ops->magic, op1, op2);
	return 0;
}

static void lens_unreg(void *kdata, struct bpf_link *link)
{
	struct bpf_lens_testmod_ops *ops = kdata;

	log_append("unreg magic=%d;", ops->magic);
}

static int lens_init(struct btf *btf)
{
	return 0;
}

static int lens_init_member(const struct btf_type *t, const struct btf_member *member,
			    void *kdata, const void *udata)
{
	const struct bpf_lens_testmod_ops *uops = udata;
	struct bpf_lens_testmod_ops *kops = kdata;

	if (__btf_member_bit_offset(t, member) / 8 != offsetof(struct bpf_lens_testmod_ops, magic))
		return 0;
	kops->magic = uops->magic;
	return 1;
}

static bool lens_is_valid_access(int off, int size, enum bpf_access_type type,
				 const struct bpf_prog *prog, struct bpf_insn_access_aux *info)
{
	return bpf_tracing_btf_ctx_access(off, size, type, prog, info);
}

static const struct bpf_verifier_ops lens_verifier_ops = {
	.get_func_proto = bpf_base_func_proto,
	.is_valid_access = lens_is_valid_access,
};

/* The kernel wants stubs with the ops' signatures (CFI) for every struct_ops type. */
static int lens_op_1_stub(void)
{
	return 0;
}

static int lens_op_2_stub(int a, int b)
{
	return 0;
}

static struct bpf_lens_testmod_ops lens_cfi_stubs = {
	.lens_op_1 = lens_op_1_stub,
	.lens_op_2 = lens_op_2_stub,
};

static struct bpf_struct_ops lens_struct_ops = {
	.verifier_ops = &lens_verifier_ops,
	.init = lens_init,
	.init_member = lens_init_member,
	.reg = lens_reg,
	.unreg = lens_unreg,
	.cfi_stubs = &lens_cfi_stubs,
	.name = "bpf_lens_testmod_ops",
	.owner = THIS_MODULE,
};

static int __init bpf_lens_testmod_init(void)
{
	return register_bpf_struct_ops(&lens_struct_ops, bpf_lens_testmod_ops);
}

static void __exit bpf_lens_testmod_exit(void)
{
	/* the type goes away with the module's BTF; maps of it hold a module reference */
}

module_init(bpf_lens_testmod_init);
module_exit(bpf_lens_testmod_exit);
MODULE_DESCRIPTION("BPF Lens test module: a struct_ops type defined in module BTF");
MODULE_LICENSE("GPL");
