#include "ProtocolRegistry.h"

#include <mutex>
#include <utility>
#include <vector>

namespace e2kvm::block {

namespace {

std::mutex& registryMutex() {
    static std::mutex m;
    return m;
}

std::vector<std::pair<std::string, ProtocolOpener>>& registry() {
    static std::vector<std::pair<std::string, ProtocolOpener>> r;
    return r;
}

std::map<std::string, DriverOpener>& drivers() {
    static std::map<std::string, DriverOpener> d;
    return d;
}

} // namespace

void registerDriver(const std::string& driver, DriverOpener opener) {
    std::lock_guard lock(registryMutex());
    drivers()[driver] = std::move(opener);
}

std::unique_ptr<BlockDriver>
openRegisteredDriver(const std::string& driver,
                     const std::map<std::string, std::string>& driverOptions,
                     const OpenOptions& options) {
    DriverOpener opener;
    {
        std::lock_guard lock(registryMutex());
        auto it = drivers().find(driver);
        if (it != drivers().end())
            opener = it->second;
    }
    return opener ? opener(driverOptions, options) : nullptr;
}

void registerProtocol(const std::string& prefix, ProtocolOpener opener) {
    std::lock_guard lock(registryMutex());
    for (auto& [p, o] : registry())
        if (p == prefix) {
            o = std::move(opener);
            return;
        }
    registry().emplace_back(prefix, std::move(opener));
}

bool isRegisteredProtocol(const std::string& name) {
    std::lock_guard lock(registryMutex());
    for (const auto& entry : registry())
        if (name.compare(0, entry.first.size(), entry.first) == 0)
            return true;
    return false;
}

std::unique_ptr<BlockDriver> openRegisteredProtocol(const std::string& name,
                                                    const OpenOptions& options) {
    ProtocolOpener opener;
    {
        std::lock_guard lock(registryMutex());
        for (const auto& [p, o] : registry())
            if (name.compare(0, p.size(), p) == 0)
                opener = o;
    }
    return opener ? opener(name, options) : nullptr;
}

} // namespace e2kvm::block
