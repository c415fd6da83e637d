#pragma once
// QmpError: a command failure as QMP reports it: an error class ("GenericError",
// "CommandNotFound", "DeviceNotFound") and a human description.
#include <stdexcept>
#include <string>

namespace e2kvm::qmp {

class QmpError : public std::runtime_error {
public:
    explicit QmpError(const std::string& desc, std::string errorClass = "GenericError")
        : std::runtime_error(desc), class_(std::move(errorClass)) {}
    const std::string& errorClass() const { return class_; }

private:
    std::string class_;
};

} // namespace e2kvm::qmp
