#pragma once
// SourceStatements: the first stage of the assembler. Splits E2K assembly source into
// statements the way MCST's GNU as does ('{', '}' and ';' separate statements, "name:" is a
// label of its own; comments: '!' and '//' to the end of the line, '#' at the start of a line,
// /* */), and expands the GNU as macro directives: .macro/.endm (parameters with defaults,
// :req and :vararg, \name, \() and \@ in the body, .exitm, .purgem), .rept, .irp, .irpc and
// .endr. The assembler proper sees only the expanded statements.
#include <string>
#include <vector>

namespace e2kvm::emu {

struct SourceStatement {
    int line = 0;     // line of the source (of the outermost macro use when expanded)
    std::string text; // trimmed; "{", "}", "label:" or one operation or directive
};

// Throws AsmError with "file:line: " context.
std::vector<SourceStatement> readStatements(const std::string& source, const std::string& file);

} // namespace e2kvm::emu
