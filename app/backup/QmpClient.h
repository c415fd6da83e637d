#pragma once
// QmpClient: a synchronous client of a QMP monitor on a Unix socket (QEMU's qemu-system,
// e2kvm-system, the app's --qmp): capabilities negotiation, commands with their replies, and
// the asynchronous events that arrive meanwhile. Every wait has a deadline, so a monitor that
// stops answering gives an error rather than a hang.
#include "app/json/Json.h"

#include <chrono>
#include <deque>
#include <stdexcept>
#include <string>

namespace e2kvm::backup {

// A command the monitor answered with an error: its class ("GenericError") and description.
class QmpCommandError : public std::runtime_error {
public:
    QmpCommandError(std::string command, std::string errorClass, const std::string& desc)
        : std::runtime_error(command + ": " + desc), command_(std::move(command)),
          class_(std::move(errorClass)), desc_(desc) {}
    const std::string& command() const { return command_; }
    const std::string& errorClass() const { return class_; }
    const std::string& description() const { return desc_; }

private:
    std::string command_, class_, desc_;
};

class QmpClient {
public:
    // Connects to "unix:PATH" or a plain path and negotiates capabilities. Throws
    // std::runtime_error naming the socket when nothing answers as a QMP monitor.
    explicit QmpClient(const std::string& address,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
    ~QmpClient();
    QmpClient(const QmpClient&) = delete;
    QmpClient& operator=(const QmpClient&) = delete;

    // Runs a command and returns its "return" value; QmpCommandError if it failed.
    json::Json execute(const std::string& command, json::Json arguments = json::Json::object());
    // Waits for the next event named `name` whose data has every member of `match` (events that
    // arrived earlier count, and are consumed); returns its data. Throws on timeout.
    json::Json waitEvent(const std::string& name, const json::Json& match = json::Json::object(),
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // The QEMU version the monitor announced ("7.2.0").
    const std::string& version() const { return version_; }
    const std::string& address() const { return address_; }

private:
    json::Json readMessage(std::chrono::steady_clock::time_point deadline);
    void send(const json::Json& message);

    std::string address_;
    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    std::string inbuf_;
    std::deque<json::Json> events_;
    std::string version_;
    uint64_t nextId_ = 1;
};

} // namespace e2kvm::backup
