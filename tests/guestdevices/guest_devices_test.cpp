// The guest-device library (app/guestdevices): QEMU's option syntax, -device / device_add
// parsing with qemu-system's messages, and GuestDevices' table: disks in the board's slots
// before the machine runs, a controller taking the disks on its bus with it, and a run's
// devices released at its end. (Plugging into a running machine: SelectedVmMachine's tests and
// the system/GUI hot-plug tests.)
#include "app/guestdevices/BlockDeviceModels.h"
#include "app/guestdevices/GuestDevices.h"
#include "app/guestdevices/QemuOpts.h"
#include "app/qmp/QmpError.h"
#include "app/vmcore/BlockNodeTable.h"
#include "block/NullImage.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

using namespace e2kvm;
using namespace e2kvm::guestdev;

namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

template <typename F> std::string failure(F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

void addNullNode(vm::BlockNodeTable& nodes, const std::string& name, bool readOnly = false) {
    block::NullOptions options;
    options.size = 1 << 20;
    options.readOnly = readOnly;
    nodes.add(std::make_shared<block::NullImage>("null-co://", options), "null-co://", "null-co",
              readOnly, name);
}

TEST(QemuOpts, SplitsItemsWithDoubledCommasAndAnImpliedKey) {
    EXPECT_EQ(splitQemuOpts("virtio-blk,id=a,,b,drive=x", "driver"),
              (Pairs{{"driver", "virtio-blk"}, {"id", "a,b"}, {"drive", "x"}}));
    EXPECT_EQ(splitQemuOpts("if=none,", ""), (Pairs{{"if", "none"}}));
    EXPECT_EQ(splitQemuOpts("a=1,,,", ""), (Pairs{{"a", "1,"}}));
    EXPECT_EQ(failure([] { splitQemuOpts("a=1,,b=2", ""); }), "");
    EXPECT_EQ(failure([] { splitQemuOpts(",a=1", ""); }), "empty parameter (stray comma)");
    EXPECT_EQ(failure([] { splitQemuOpts("x", ""); }), "Invalid parameter 'x'");
    EXPECT_EQ(failure([] { splitQemuOpts("=1", ""); }), "empty parameter name in '=1'");
}

TEST(ParseDevice, TakesModelsByNameOrAliasWithQemuSystemsErrors) {
    DeviceOption d = parseDevice("virtio-blk,id=vd0,drive=n0,write-cache=off,iothread=io0");
    EXPECT_EQ(d.driver, "virtio-blk-pci");
    EXPECT_EQ(d.id, "vd0");
    EXPECT_EQ(d.drive, "n0");
    EXPECT_EQ(d.writeCache, "off");
    EXPECT_EQ(d.iothread, "io0");
    d = parseDevice("virtio-scsi,id=scsi0");
    EXPECT_EQ(d.driver, "virtio-scsi-pci");
    EXPECT_TRUE(d.drive.empty());
    EXPECT_EQ(failure([] { parseDevice("foo"); }),
              "-device foo: 'foo' is not a valid device model name");
    EXPECT_EQ(failure([] { parseDevice("scsi-hd,id=x"); }),
              "-device scsi-hd,id=x: drive property not set");
    EXPECT_EQ(failure([] { parseDevice("scsi-hd,id=1x,drive=a"); }),
              "-device scsi-hd,id=1x,drive=a: Parameter 'id' expects an identifier");
    EXPECT_EQ(failure([] { parseDevice("scsi-hd,drive=a,nope=1"); }),
              "-device scsi-hd,drive=a,nope=1: Property 'scsi-hd.nope' not found");
    // device_add answers without the "-device …:" prefix, as a QMP error.
    try {
        parseDeviceAdd("driver=scsi-hd,id=x");
        FAIL() << "no error";
    } catch (const qmp::QmpError& e) {
        EXPECT_STREQ(e.what(), "drive property not set");
    }
}

// Before the machine exists, disks go into its configuration in slot order; device_del takes
// a controller with the disks on its bus, children first.
TEST(GuestDevices, BeforeTheMachineDisksFillTheConfigurationInSlotOrder) {
    vm::BlockNodeTable nodes;
    addNullNode(nodes, "n0");
    addNullNode(nodes, "n1");
    emu::MachineConfig config;
    GuestDevices devices(nodes);
    devices.setConfig(&config);
    std::vector<qmp::QmpMachineDisk> disks;
    devices.add(parseDevice("virtio-blk-pci,drive=n0"), disks);
    devices.add(parseDevice("virtio-scsi,id=scsi0"), disks);
    devices.add(parseDevice("scsi-hd,id=sd0,drive=n1"), disks);
    ASSERT_EQ(config.disks.size(), 2u);
    EXPECT_EQ(config.disks[0].id, "n0");
    EXPECT_EQ(config.disks[1].id, "sd0");
    ASSERT_EQ(disks.size(), 2u);
    EXPECT_EQ(disks[0].qomPath, "/machine/peripheral-anon/device[0]");
    EXPECT_EQ(disks[0].qdev, "/machine/peripheral-anon/device[0]/virtio-backend");
    EXPECT_EQ(disks[1].qdev, "sd0");
    EXPECT_EQ(nodes.users("n1"), std::vector<std::string>{"device 'sd0'"});
    // One writer per node.
    EXPECT_EQ(failure([&] { devices.add(parseDevice("scsi-hd,id=sd1,drive=n1"), disks); }),
              "Permission conflict on node 'n1': permissions 'write' are both required by block "
              "device 'sd0' (uses node 'n1' as 'root' child) and unshared by block device 'sd1' "
              "(uses node 'n1' as 'root' child).");

    auto deleted = devices.remove("scsi0", disks);
    ASSERT_EQ(deleted.size(), 3u);
    EXPECT_EQ(deleted[0].path, "/machine/peripheral/sd0");
    EXPECT_EQ(deleted[1].path, "/machine/peripheral/scsi0/virtio-backend");
    EXPECT_EQ(deleted[2].path, "/machine/peripheral/scsi0");
    EXPECT_EQ(disks.size(), 1u);
    EXPECT_TRUE(nodes.users("n1").empty());
    EXPECT_EQ(failure([&] { devices.remove("scsi0", disks); }), "Device 'scsi0' not found");
}

// A present disk holds its slot; releaseAll lets the devices device_add made go (their nodes
// free) and keeps the present ones' entries.
TEST(GuestDevices, ReleaseAllFreesTheNodesOfAddedDevicesOnly) {
    vm::BlockNodeTable nodes;
    addNullNode(nodes, "n0");
    emu::MachineConfig config;
    GuestDevices devices(nodes);
    qmp::QmpMachineDisk own{"disk0", "own", "/machine/peripheral-anon/device[0]/virtio-backend"};
    own.qomPath = "/machine/peripheral-anon/device[0]";
    devices.addPresentDisk(own, 0);
    EXPECT_EQ(failure([&] { devices.addPresentDisk(own, 0); }),
              "GuestDevices: slot 0 of a present disk is taken or out of range");
    devices.setNextAnonymous(1);
    std::vector<qmp::QmpMachineDisk> disks{own};
    config.disks.push_back({"own", nullptr, false}); // slot 0 as the machine has it
    devices.setConfig(&config);
    devices.add(parseDevice("virtio-blk-pci,id=vd1,drive=n0"), disks);
    ASSERT_EQ(config.disks.size(), 2u);
    EXPECT_EQ(config.disks[1].id, "vd1");
    EXPECT_EQ(nodes.users("n0"), std::vector<std::string>{"device 'vd1'"});
    devices.releaseAll(disks);
    ASSERT_EQ(disks.size(), 1u);
    EXPECT_EQ(disks[0].device, "disk0");
    EXPECT_TRUE(nodes.users("n0").empty());
    EXPECT_EQ(failure([&] { devices.remove("vd1", disks); }), "Device 'vd1' not found");
}

TEST(BlockDeviceModels, DeviceHelpListsTheStorageModels) {
    const std::string help = deviceHelpText();
    EXPECT_EQ(help.rfind("Storage devices:\n", 0), 0u);
    EXPECT_NE(help.find("name \"virtio-blk-pci\", bus PCI, alias \"virtio-blk\"\n"),
              std::string::npos);
    EXPECT_NE(help.find("name \"scsi-hd\", bus SCSI, desc \"virtual SCSI disk\"\n"),
              std::string::npos);
}

} // namespace
