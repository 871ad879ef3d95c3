@ Hand-written probes, one relocation kind each (Thumb-2). Each returns what it computed; the C
@ driver compares it with the address C itself computes for the same thing.
    .syntax unified
    .thumb
    .text

    .globl via_got                      @ R_ARM_GOT_PREL: address from libprobedata via the GOT
    .type via_got, %function
    .thumb_func
via_got:
    ldr r0, .Lgot
.Lgot_pc:
    add r0, pc
    ldr r0, [r0]
    bx lr
    .balign 4
.Lgot:
    .word probe_target(GOT_PREL) + (. - (.Lgot_pc + 4))
    .size via_got, .-via_got

    .globl via_pcrel                    @ R_ARM_THM_MOVW_PREL_NC / R_ARM_THM_MOVT_PREL, addend 12
    .type via_pcrel, %function
    .thumb_func
via_pcrel:
    movw r0, #:lower16:(probe_local + 12 - (.Lpcrel_pc + 4))
    movt r0, #:upper16:(probe_local + 12 - (.Lpcrel_pc + 4))
.Lpcrel_pc:
    add r0, pc
    bx lr
    .size via_pcrel, .-via_pcrel

    .globl via_abs                      @ R_ARM_REL32 to a data word holding R_ARM_ABS32 (addend 8)
    .type via_abs, %function
    .thumb_func
via_abs:
    ldr r0, .Labs
.Labs_pc:
    add r0, pc
    ldr r0, [r0]
    bx lr
    .balign 4
.Labs:
    .word abs_slot - (.Labs_pc + 4)
    .size via_abs, .-via_abs

    .globl via_plt                      @ R_ARM_THM_JUMP24 tail call to an ARM-state PLT entry
    .type via_plt, %function
    .thumb_func
via_plt:
    b.w probe_func
    .size via_plt, .-via_plt

    .data
    .balign 4
abs_slot:
    .word probe_target + 8

    .section .note.GNU-stack, "", %progbits
