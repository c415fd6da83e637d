#pragma once
// CreateOptionList: the "-o key=value,..." options of create/convert, validated per format,
// turned into block::CreateOptions and printed as qemu-img's "Formatting '...'" line.
#include "block/ImageOpen.h"

#include <map>
#include <string>

namespace e2kvm::img {

class CreateOptionList {
public:
    explicit CreateOptionList(std::string format) : format_(std::move(format)) {}

    // Adds "a=1,b=2" (",," is a literal comma). Throws CommandFailure naming `filename` for
    // unknown keys or bad values.
    void parse(const std::string& text, const std::string& filename);
    void set(const std::string& key, const std::string& value) { values_[key] = value; }
    bool has(const std::string& key) const { return values_.count(key) != 0; }
    std::string get(const std::string& key) const;

    // Checks the values the format itself refuses (preallocation, compat, compression_type
    // words; encryption=on); qemu-img reports these after its Formatting line. Throws
    // CommandFailure naming `filename`.
    void checkValues(const std::string& filename) const;
    // nocow and extent_size_hint are accepted and have no effect here (hints for btrfs and
    // XFS that QEMU's file driver also only tries to apply).
    block::CreateOptions toCreateOptions() const;
    // "Formatting 'FILE', fmt=qcow2 cluster_size=65536 ... refcount_bits=16"
    std::string formattingLine(const std::string& filename) const;

private:
    void validate(const std::string& key, std::string& value, const std::string& filename) const;

    std::string format_;
    std::map<std::string, std::string> values_;
};

// True for the formats this tool can create.
bool isCreatableFormat(const std::string& format);

} // namespace e2kvm::img
