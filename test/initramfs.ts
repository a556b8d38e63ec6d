// The initramfs writer lives with the VM targets (server/src/remote/initramfs.ts).
export { busyboxBase, newcArchive, type InitramfsEntry } from '../server/src/remote/initramfs';
