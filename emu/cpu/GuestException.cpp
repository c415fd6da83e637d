#include "emu/cpu/GuestException.h"

namespace e2kvm::emu {

const char* excName(ExcNum n) {
    switch (n) {
    case ExcNum::IllegalOpcode:
        return "exc_illegal_opcode";
    case ExcNum::PrivAction:
        return "exc_priv_action";
    case ExcNum::IllegalInstrAddr:
        return "exc_illegal_instr_addr";
    case ExcNum::WindowBounds:
        return "exc_window_bounds";
    case ExcNum::UserStackBounds:
        return "exc_user_stack_bounds";
    case ExcNum::ProcStackBounds:
        return "exc_proc_stack_bounds";
    case ExcNum::ChainStackBounds:
        return "exc_chain_stack_bounds";
    case ExcNum::IllegalOperand:
        return "exc_illegal_operand";
    case ExcNum::AddrNotAligned:
        return "exc_addr_not_aligned";
    case ExcNum::InstrPageMiss:
        return "exc_instr_page_miss";
    case ExcNum::DataPage:
        return "exc_data_page";
    case ExcNum::Interrupt:
        return "exc_interrupt";
    case ExcNum::Div:
        return "exc_div";
    }
    return "exc_unknown";
}

} // namespace e2kvm::emu
