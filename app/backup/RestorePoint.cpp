#include "app/backup/RestorePoint.h"

#include <ctime>
#include <stdexcept>

namespace e2kvm::backup {

using json::Json;

const char* pointTypeName(PointType t) {
    return t == PointType::Full ? "full" : "inc";
}

Json toJson(const RestorePoint& p) {
    return Json::object({{"point", p.number},
                         {"file", p.file},
                         {"type", pointTypeName(p.type)},
                         {"time", p.time},
                         {"size", p.storedBytes},
                         {"verified", p.verified},
                         {"verified-time", p.verifiedTime},
                         {"virtual-size", p.virtualSize},
                         {"copied", p.copiedBytes},
                         {"changed", p.changedBytes},
                         {"source", p.source},
                         {"base-bitmap", p.baseBitmap},
                         {"checkpoint", p.checkpoint},
                         {"sha256", p.sha256},
                         {"compression", p.compression}});
}

namespace {

const Json& member(const Json& j, const char* key) {
    const Json* m = j.isObject() ? j.find(key) : nullptr;
    if (!m)
        throw std::runtime_error(std::string("restore point without '") + key + "'");
    return *m;
}

std::string text(const Json& j, const char* key) {
    const Json& m = member(j, key);
    if (!m.isString())
        throw std::runtime_error(std::string("restore point member '") + key + "' is not a string");
    return m.asString();
}

uint64_t number(const Json& j, const char* key) {
    try {
        return member(j, key).asUInt();
    } catch (const json::JsonError&) {
        throw std::runtime_error(std::string("restore point member '") + key +
                                 "' is not a non-negative integer");
    }
}

} // namespace

RestorePoint restorePointFromJson(const Json& j) {
    RestorePoint p;
    p.number = number(j, "point");
    p.file = text(j, "file");
    if (p.file.empty() || p.file.find('/') != std::string::npos || p.file[0] == '.')
        throw std::runtime_error("restore point " + std::to_string(p.number) + ": file name '" +
                                 p.file + "' is not a plain file name");
    std::string type = text(j, "type");
    if (type == "full")
        p.type = PointType::Full;
    else if (type == "inc")
        p.type = PointType::Incremental;
    else
        throw std::runtime_error("restore point " + std::to_string(p.number) + ": type '" + type +
                                 "' is neither full nor inc");
    p.time = text(j, "time");
    p.storedBytes = number(j, "size");
    const Json& v = member(j, "verified");
    if (!v.isBool())
        throw std::runtime_error("restore point member 'verified' is not a boolean");
    p.verified = v.asBool();
    p.verifiedTime = text(j, "verified-time");
    p.virtualSize = number(j, "virtual-size");
    p.copiedBytes = number(j, "copied");
    p.changedBytes = number(j, "changed");
    p.source = text(j, "source");
    p.baseBitmap = text(j, "base-bitmap");
    p.checkpoint = text(j, "checkpoint");
    p.sha256 = text(j, "sha256");
    // Manifests written before compressed points existed have no such member.
    if (j.find("compression"))
        p.compression = text(j, "compression");
    if (!p.compression.empty() && p.compression != "zlib" && p.compression != "zstd")
        throw std::runtime_error("restore point " + std::to_string(p.number) + ": compression '" +
                                 p.compression + "' is neither zlib nor zstd");
    return p;
}

std::string utcNow() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

} // namespace e2kvm::backup
