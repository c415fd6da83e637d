#pragma once
// OptionHelp: qemu-img's handling of "-o help" / "-o ?" for create and convert (the list of
// creation options of a format, with those of the file protocol when a target file is named)
// and its checks of one -o argument, shared with amend.
#include <string>

namespace e2kvm::img {

// One -o argument as qemu-img accepts it: not empty, no leading comma, and no unescaped
// trailing one ("a=1," and ",help" are refused; "a=x,," is a value ending in a comma).
bool isValidOptionList(const std::string& text);

// Whether an item of the option list is "help" or "?" (not a value containing them).
bool hasHelpOption(const std::string& text);

// Prints the creation options of `format` as qemu-img create -o help does: with `filename`
// (may be empty) the options of the protocol creating it are included. Throws CommandFailure
// for formats that cannot create images. Returns the exit code.
int printCreateOptionHelp(const std::string& format, const std::string& filename);

} // namespace e2kvm::img
