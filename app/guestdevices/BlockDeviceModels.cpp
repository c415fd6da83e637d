#include "app/guestdevices/BlockDeviceModels.h"

#include "app/qmp/QmpError.h"
#include "app/vmcore/QemuId.h"

#include <algorithm>

namespace e2kvm::guestdev {

const std::vector<BlockDeviceModel>& blockDeviceModels() {
    // Sorted by name, as QEMU lists a category.
    static const std::vector<BlockDeviceModel> models = {
        {"ide-cd", "IDE", "", "virtual IDE CD-ROM", false},
        {"ide-hd", "IDE", "", "virtual IDE disk", false},
        {"scsi-hd", "SCSI", "", "virtual SCSI disk", false},
        {"virtio-blk-device", "virtio-bus", "", "", false},
        {"virtio-blk-pci", "PCI", "virtio-blk", "", false},
        {"virtio-scsi-device", "virtio-bus", "", "", true},
        {"virtio-scsi-pci", "PCI", "virtio-scsi", "", true},
    };
    return models;
}

std::string deviceHelpText() {
    std::string out = "Storage devices:\n";
    for (const BlockDeviceModel& m : blockDeviceModels()) {
        out += "name \"" + m.name + "\", bus " + m.bus;
        if (!m.alias.empty())
            out += ", alias \"" + m.alias + "\"";
        if (!m.desc.empty())
            out += ", desc \"" + m.desc + "\"";
        out += "\n";
    }
    return out;
}

DeviceOption parseDevice(const std::string& spec) {
    const std::string where = "-device " + spec;
    std::vector<std::pair<std::string, std::string>> items;
    try {
        items = splitQemuOpts(spec, "driver");
    } catch (const OptionError& e) {
        throw OptionError(where + ": " + e.what());
    }
    if (items.empty() || items[0].first != "driver")
        throw OptionError(where + ": Parameter 'driver' is missing");
    const std::string& name = items[0].second;
    const auto& models = blockDeviceModels();
    auto model = std::find_if(models.begin(), models.end(), [&](const BlockDeviceModel& m) {
        return m.name == name || (!m.alias.empty() && m.alias == name);
    });
    if (model == models.end())
        throw OptionError(where + ": '" + name + "' is not a valid device model name");
    DeviceOption d;
    d.spec = spec;
    d.driver = model->name;
    bool driveGiven = false;
    for (size_t i = 1; i < items.size(); ++i) {
        const auto& [key, value] = items[i];
        if (key == "id") {
            if (!vm::wellFormedId(value))
                throw OptionError(where + ": Parameter 'id' expects an identifier");
            d.id = value;
        } else if (key == "drive" && !model->controller) {
            d.drive = value;
            driveGiven = true;
        } else if (key == "write-cache" && !model->controller) {
            if (value != "on" && value != "off" && value != "auto")
                throw OptionError(where + ": Property '" + model->name +
                                  ".write-cache' doesn't take value '" + value + "'");
            d.writeCache = value;
        } else if (key == "bus") {
            d.bus = value;
        } else if (key == "iothread" &&
                   (model->controller || model->name.rfind("virtio-blk", 0) == 0)) {
            d.iothread = value;
        } else if (key == "addr" || key == "serial" || key == "bootindex" || key == "num-queues" ||
                   key == "scsi-id" || key == "lun" || key == "channel" || key == "unit" ||
                   key == "share-rw" || key == "werror" || key == "rerror") {
            // Placement and tuning of QEMU's device: the board has one kind of disk.
        } else {
            throw OptionError(where + ": Property '" + model->name + "." + key + "' not found");
        }
    }
    if (!model->controller && !driveGiven)
        throw OptionError(where + ": drive property not set");
    return d;
}

DeviceOption parseDeviceAdd(const std::string& spec) {
    try {
        return parseDevice(spec);
    } catch (const OptionError& e) {
        std::string what = e.what();
        const std::string prefix = "-device " + spec + ": ";
        throw qmp::QmpError(what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what);
    }
}

} // namespace e2kvm::guestdev
