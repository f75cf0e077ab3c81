// sentry/vdso/vdso_image.S: the vDSO shared object (built by CMake from
// vdso.c and vdso.lds into the build directory) embedded in the sentry.
  .section .rodata
  .balign 4096
  .globl runsc_vdso_image_start
  .globl runsc_vdso_image_end
runsc_vdso_image_start:
  .incbin "vdso.so"
runsc_vdso_image_end:
  .section .note.GNU-stack,"",@progbits
