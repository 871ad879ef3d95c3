@ Far calls: far_thumb and far_arm sit more than 16 MiB after far_caller, beyond the reach of
@ Thumb BL/BLX (±16 MiB), so the linker must route the calls through long-branch veneers.
    .syntax unified
    .text
    .globl far_caller
    .type far_caller, %function
    .thumb_func
far_caller:                 @ int far_caller(int x): far_thumb(x) + far_arm(x)
    push {r4, r5, lr}
    mov r4, r0
    bl far_thumb
    mov r5, r0
    mov r0, r4
    bl far_arm
    add r0, r0, r5
    pop {r4, r5, pc}
    .size far_caller, .-far_caller

    .section .text.gap, "ax", %progbits
    .space 17 * 1024 * 1024

    .section .text.far, "ax", %progbits
    .hidden far_thumb
    .type far_thumb, %function
    .thumb_func
far_thumb:                  @ x + 1000
    add r0, r0, #1000
    bx lr
    .size far_thumb, .-far_thumb

    .arm
    .balign 4
    .hidden far_arm
    .type far_arm, %function
far_arm:                    @ x + 20000
    add r0, r0, #19968
    add r0, r0, #32
    bx lr
    .size far_arm, .-far_arm
    .section .note.GNU-stack, "", %progbits
