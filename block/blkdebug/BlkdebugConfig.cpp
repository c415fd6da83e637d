#include "BlkdebugConfig.h"
#include "block/OnOffValue.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace e2kvm::block {

namespace {

using Section = std::map<std::string, std::string>; // key -> value of one rule

struct RawRule {
    bool injectError;
    Section keys;
};

int64_t numberOption(const Section& s, const char* key, int64_t fallback) {
    auto it = s.find(key);
    if (it == s.end())
        return fallback;
    const std::string& text = it->second;
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(text.c_str(), &end, 0);
    if (text.empty() || *end != '\0' || errno == ERANGE)
        throw BlockError(EINVAL, std::string("Parameter '") + key + "' expects a number");
    return v;
}

bool boolOption(const Section& s, const char* key) {
    auto it = s.find(key);
    if (it == s.end())
        return false;
    if (auto on = onOffValue(it->second))
        return *on;
    throw BlockError(EINVAL, std::string("Parameter '") + key + "' expects 'on' or 'off'");
}

BlkdebugRule makeRule(const RawRule& raw) {
    static const char* const kInjectKeys[] = {"event",  "state", "iotype",     "errno",
                                              "sector", "once",  "immediately"};
    static const char* const kStateKeys[] = {"event", "state", "new_state"};
    for (const auto& [key, value] : raw.keys) {
        bool known = false;
        if (raw.injectError) {
            for (const char* k : kInjectKeys)
                known = known || key == k;
        } else {
            for (const char* k : kStateKeys)
                known = known || key == k;
        }
        if (!known)
            throw BlockError(EINVAL, "Invalid parameter '" + key + "'");
    }
    auto eventIt = raw.keys.find("event");
    if (eventIt == raw.keys.end())
        throw BlockError(EINVAL, "Missing event name for rule");
    auto event = blkdebugEventByName(eventIt->second);
    if (!event)
        throw BlockError(EINVAL, "invalid parameter value: " + eventIt->second);
    BlkdebugRule rule;
    rule.event = *event;
    rule.state = numberOption(raw.keys, "state", 0);
    if (!raw.injectError) {
        rule.action = BlkdebugRule::Action::SetState;
        rule.newState = numberOption(raw.keys, "new_state", 0);
        return rule;
    }
    rule.action = BlkdebugRule::Action::InjectError;
    rule.error = int(numberOption(raw.keys, "errno", EIO));
    rule.once = boolOption(raw.keys, "once");
    rule.immediately = boolOption(raw.keys, "immediately");
    int64_t sector = numberOption(raw.keys, "sector", -1);
    rule.offset = sector == -1 ? -1 : sector * 512;
    if (auto it = raw.keys.find("iotype"); it != raw.keys.end()) {
        auto type = blkdebugIoTypeByName(it->second);
        if (!type)
            throw BlockError(EINVAL, "invalid parameter value: " + it->second);
        rule.ioTypes = 1u << unsigned(*type);
    }
    return rule;
}

std::string trim(const std::string& s) {
    size_t a = s.find_first_not_of(" \t\r\n");
    if (a == std::string::npos)
        return {};
    size_t b = s.find_last_not_of(" \t\r\n");
    return s.substr(a, b - a + 1);
}

// QEMU's config file syntax: "[group]" (or '[group "id"]') starts a section, 'key = "value"'
// sets a key in it; empty lines and lines starting with '#' are skipped.
void readConfigFile(const std::string& path, std::vector<RawRule>& out) {
    std::ifstream in(path);
    if (!in) {
        int e = errno ? errno : ENOENT;
        throw BlockError(e,
                         std::string("Could not read blkdebug config file: ") + std::strerror(e));
    }
    std::string line;
    int lineNo = 0;
    RawRule* current = nullptr;
    auto parseError = [&] {
        throw BlockError(EINVAL, path + ":" + std::to_string(lineNo) + ": parse error");
    };
    while (std::getline(in, line)) {
        ++lineNo;
        std::string t = trim(line);
        if (t.empty() || t[0] == '#')
            continue;
        if (t[0] == '[') {
            if (t.back() != ']')
                parseError();
            std::string group = trim(t.substr(1, t.size() - 2));
            if (auto sp = group.find_first_of(" \t"); sp != std::string::npos)
                group = group.substr(0, sp); // '[group "id"]'
            if (group != "inject-error" && group != "set-state")
                throw BlockError(EINVAL, path + ":" + std::to_string(lineNo) +
                                             ": There is no option group '" + group + "'");
            out.push_back({group == "inject-error", {}});
            current = &out.back();
            continue;
        }
        auto eq = t.find('=');
        if (eq == std::string::npos || !current)
            parseError();
        std::string key = trim(t.substr(0, eq));
        std::string value = trim(t.substr(eq + 1));
        if (key.empty() || key.find_first_of(" \t") != std::string::npos || value.size() < 2 ||
            value.front() != '"' || value.back() != '"')
            parseError();
        current->keys[key] = value.substr(1, value.size() - 2);
    }
}

// "inject-error.0.event" and friends: one rule per index, in index order.
void readOptions(const std::map<std::string, std::string>& options, const std::string& group,
                 std::vector<RawRule>& out) {
    std::map<long, Section> byIndex;
    const std::string prefix = group + ".";
    for (const auto& [key, value] : options) {
        if (key.compare(0, prefix.size(), prefix) != 0)
            continue;
        std::string rest = key.substr(prefix.size());
        auto dot = rest.find('.');
        long index = 0;
        std::string field = rest;
        if (dot != std::string::npos) {
            char* end = nullptr;
            index = std::strtol(rest.c_str(), &end, 10);
            if (end != rest.c_str() + dot)
                throw BlockError(EINVAL, "Invalid parameter '" + key + "'");
            field = rest.substr(dot + 1);
        }
        byIndex[index][field] = value;
    }
    for (auto& [index, keys] : byIndex)
        out.push_back({group == "inject-error", std::move(keys)});
}

} // namespace

std::shared_ptr<Blkdebug> makeBlkdebug(const std::string& configFile,
                                       const std::map<std::string, std::string>& options) {
    std::vector<RawRule> raw;
    if (!configFile.empty())
        readConfigFile(configFile, raw);
    readOptions(options, "inject-error", raw);
    readOptions(options, "set-state", raw);
    std::vector<BlkdebugRule> rules;
    // QEMU adds all inject-error rules, then all set-state rules.
    for (bool inject : {true, false})
        for (const RawRule& r : raw)
            if (r.injectError == inject)
                rules.push_back(makeRule(r));
    return std::make_shared<Blkdebug>(std::move(rules), configFile);
}

std::optional<BlkdebugName> parseBlkdebugName(const std::string& name) {
    static const std::string kPrefix = "blkdebug:";
    if (name.compare(0, kPrefix.size(), kPrefix) != 0)
        return std::nullopt;
    std::string rest = name.substr(kPrefix.size());
    auto colon = rest.find(':');
    if (colon == std::string::npos)
        throw BlockError(EINVAL, "blkdebug requires both config file and image path");
    return BlkdebugName{rest.substr(0, colon), rest.substr(colon + 1)};
}

} // namespace e2kvm::block
