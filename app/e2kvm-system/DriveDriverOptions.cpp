#include "app/e2kvm-system/DriveDriverOptions.h"

#include "app/e2kvm-system/SystemOptions.h"
#include "app/qmp/BlockdevDriverKeys.h"

namespace e2kvm::sys {

void checkDriveDriverOptions(const std::map<std::string, std::string>& options) {
    auto unknown = qmp::unknownDriverKey(options, "qcow2");
    if (!unknown)
        return;
    if (unknown->unknownDriver)
        throw OptionError("Unknown driver '" + unknown->driver + "'");
    if (qmp::isFormatDriver(unknown->driver))
        throw OptionError("Block format '" + unknown->driver + "' does not support the option '" +
                          unknown->key + "'");
    throw OptionError("Block protocol '" + unknown->driver + "' doesn't support the option '" +
                      unknown->key + "'");
}

std::map<std::string, std::string> withDriveFile(std::map<std::string, std::string> options,
                                                 const std::string& file) {
    if (file.empty())
        return options;
    if (qmp::isFormatDriver(options["driver"])) {
        if (!options.count("file.filename"))
            options["file.filename"] = file;
    } else if (!options.count("filename")) {
        options["filename"] = file;
    }
    return options;
}

qmp::Json nestedOptions(const std::map<std::string, std::string>& options) {
    qmp::Json root = qmp::Json::object();
    for (const auto& [key, value] : options) {
        qmp::Json* obj = &root;
        size_t start = 0;
        for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
            const std::string part = key.substr(start, dot - start);
            qmp::Json* next = nullptr;
            for (auto& [k, v] : obj->asObject())
                if (k == part)
                    next = &v;
            if (!next) {
                obj->set(part, qmp::Json::object());
                next = &obj->asObject().back().second;
            }
            if (!next->isObject())
                throw OptionError("Parameter '" + key.substr(0, dot) + "' is not an object");
            obj = next;
        }
        obj->set(key.substr(start), qmp::Json(value));
    }
    return root;
}

} // namespace e2kvm::sys
