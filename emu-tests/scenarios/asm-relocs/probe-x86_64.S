# Hand-written probes, one relocation kind each (x86-64). Each returns what it computed; the C
# driver compares it with the address C itself computes for the same thing.
    .text

    .globl via_got                      # R_X86_64_REX_GOTPCRELX: address from libprobedata via the GOT
    .type via_got, @function
via_got:
    movq probe_target@GOTPCREL(%rip), %rax
    ret
    .size via_got, .-via_got

    .globl via_pcrel                    # R_X86_64_PC32 with addend 12 - 4 on a hidden local array
    .type via_pcrel, @function
via_pcrel:
    leaq probe_local+12(%rip), %rax
    ret
    .size via_pcrel, .-via_pcrel

    .globl via_abs                      # R_X86_64_64 with addend 8 in data, against another library
    .type via_abs, @function
via_abs:
    movq abs_slot(%rip), %rax
    ret
    .size via_abs, .-via_abs

    .globl via_plt                      # R_X86_64_PLT32 tail call through the PLT
    .type via_plt, @function
via_plt:
    jmp probe_func@PLT
    .size via_plt, .-via_plt

    .data
    .balign 8
abs_slot:
    .quad probe_target + 8

    .section .note.GNU-stack, "", @progbits
