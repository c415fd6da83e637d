// e2kvm-system's command line: qemu-system syntax, defaults and one-line errors.
#include "app/e2kvm-system/SystemOptions.h"
#include "app/guestdevices/BlockDeviceModels.h"

#include <gtest/gtest.h>

using namespace e2kvm::sys;

namespace {

const OptionEnvironment kHeadless{false};
const OptionEnvironment kDesktop{true};

SystemOptions parse(std::vector<std::string> args, const OptionEnvironment& env = kHeadless) {
    return parseSystemOptions(args, env);
}

// The error message for a command line that must fail.
std::string error(std::vector<std::string> args) {
    try {
        parse(args);
    } catch (const OptionError& e) {
        return e.what();
    }
    return "(accepted)";
}

} // namespace

TEST(SystemOptions, Defaults) {
    SystemOptions o = parse({});
    EXPECT_EQ(o.ramBytes, 256ull << 20);
    EXPECT_TRUE(o.drives.empty());
    EXPECT_EQ(o.display.kind, DisplayKind::None);
    EXPECT_EQ(o.serial.kind, SerialKind::None);
    EXPECT_FALSE(o.startPaused);
    EXPECT_TRUE(o.qmp.empty());
    EXPECT_EQ(parse({}, kDesktop).display.kind, DisplayKind::Sdl);
}

TEST(SystemOptions, RamSizes) {
    EXPECT_EQ(parse({"-m", "512"}).ramBytes, 512ull << 20); // bare number = MiB
    EXPECT_EQ(parse({"-m", "1G"}).ramBytes, 1ull << 30);
    EXPECT_EQ(parse({"-m", "1g"}).ramBytes, 1ull << 30);
    EXPECT_EQ(parse({"-m", "64M"}).ramBytes, 64ull << 20);
    EXPECT_EQ(parse({"-m", "1.5G"}).ramBytes, 3ull << 29);
    EXPECT_EQ(parse({"-m", "size=32M"}).ramBytes, 32ull << 20);
    EXPECT_EQ(parse({"-m", "3G"}).ramBytes, 3ull << 30);
    EXPECT_EQ(parse({"-m", "16777216B"}).ramBytes, 16ull << 20);
    EXPECT_EQ(parse({"-m", "20000K"}).ramBytes, 20480000ull); // multiple of 8 KiB already
    EXPECT_EQ(parse({"-m", "20001K"}).ramBytes, 20488192ull); // rounded up to 8 KiB
    EXPECT_EQ(parse({"--m", "128"}).ramBytes, 128ull << 20);  // --opt works too
}

TEST(SystemOptions, RamErrors) {
    EXPECT_EQ(error({"-m", "7Q"}), "-m 7Q: invalid size");
    EXPECT_EQ(error({"-m", ""}), "-m : invalid size");
    EXPECT_EQ(error({"-m", "-5"}), "-m -5: invalid size");
    EXPECT_EQ(error({"-m", "1.G"}), "-m 1.G: invalid size");
    EXPECT_EQ(error({"-m", "12MB"}), "-m 12MB: invalid size");
    EXPECT_EQ(error({"-m", "0x100"}), "-m 0x100: invalid size");
    EXPECT_EQ(error({"-m", "8"}), "-m 8: RAM size must be between 16 MiB and 3 GiB");
    EXPECT_EQ(error({"-m", "4G"}), "-m 4G: RAM size must be between 16 MiB and 3 GiB");
    EXPECT_EQ(error({"-m", "99999999999999999999"}), "-m 99999999999999999999: invalid size");
    EXPECT_EQ(error({"-m", "9999999999T"}),
              "-m 9999999999T: RAM size must be between 16 MiB and 3 GiB");
    EXPECT_EQ(error({"-m"}), "-m: requires an argument");
}

TEST(SystemOptions, Drives) {
    SystemOptions o =
        parse({"-drive", "file=a.qcow2,format=qcow2", "-drive",
               "file=b.raw,format=raw,readonly=on,if=virtio,id=data", "-drive",
               "file=c.qcow2,if=none,id=spare,node-name=n1", "-drive", "file=d,,e.img"});
    ASSERT_EQ(o.drives.size(), 4u);
    EXPECT_EQ(o.drives[0].file, "a.qcow2");
    EXPECT_EQ(o.drives[0].format, "qcow2");
    EXPECT_EQ(o.drives[0].id, "disk0");
    EXPECT_EQ(o.drives[0].nodeName, ""); // generated when the node opens ("#block…")
    EXPECT_FALSE(o.drives[0].readOnly);
    EXPECT_TRUE(o.drives[0].attached);
    EXPECT_EQ(o.drives[1].id, "data");
    EXPECT_TRUE(o.drives[1].readOnly);
    EXPECT_EQ(o.drives[2].id, "spare");
    EXPECT_EQ(o.drives[2].nodeName, "n1");
    EXPECT_FALSE(o.drives[2].attached);
    // Attached drives are numbered in order, if=none ones are skipped.
    EXPECT_EQ(o.drives[3].id, "disk2");
    EXPECT_EQ(o.drives[3].file, "d,e.img"); // ",," is a comma
    EXPECT_EQ(o.drives[3].format, "");
    // With an explicit interface and no id, QEMU's names: "virtio<N>", "none<N>".
    SystemOptions named = parse({"-drive", "file=a,if=virtio", "-drive", "file=b,if=none", "-drive",
                                 "file=c,if=virtio,file.locking=on", "-drive", "file=d,if=ide"});
    EXPECT_EQ(named.drives[0].id, "virtio0");
    EXPECT_EQ(named.drives[1].id, "none0");
    EXPECT_EQ(named.drives[2].id, "virtio1");
    EXPECT_EQ(named.drives[3].id, "ide0-hd0");
    SystemOptions chain =
        parse({"-drive", "file=t,node-name=top,backing.node-name=mid,backing.backing.node-name=b"});
    EXPECT_EQ(chain.drives[0].backingNodeNames, (std::vector<std::string>{"mid", "b"}));
    EXPECT_EQ(error({"-drive", "file=t,format=qcow2,backingx.node-name=m"}),
              "-drive file=t,format=qcow2,backingx.node-name=m: Block format 'qcow2' does not "
              "support the option 'backingx.node-name'");
    // A bare file name is a drive, as qemu-system's first hard disk.
    SystemOptions bare = parse({"disk.img"});
    ASSERT_EQ(bare.drives.size(), 1u);
    EXPECT_EQ(bare.drives[0].file, "disk.img");
    // Options for the drivers: kept for the block library, with the drive's file put in.
    SystemOptions debug =
        parse({"-drive", "file=blkdebug::null-co://,id=drive0,align=65536,driver=blkdebug"});
    EXPECT_EQ(debug.drives[0].driverOptions,
              (std::map<std::string, std::string>{{"driver", "blkdebug"}, {"align", "65536"}}));
    EXPECT_TRUE(parse({"-drive", "file=x,format=qcow2"}).drives[0].driverOptions.empty());
    EXPECT_EQ(parse({"-drive", "if=none,driver=null-co,size=1M"}).drives[0].driverOptions.size(),
              2u);
    EXPECT_EQ(parse({"-drive", "file=x,readonly=off"}).drives[0].readOnly, false);
    EXPECT_EQ(parse({"-drive", "file=x,readonly=true"}).drives[0].readOnly, true);
}

TEST(SystemOptions, DriveErrors) {
    EXPECT_EQ(error({"-drive", "file=x,format=qcow2,bogus=1"}),
              "-drive file=x,format=qcow2,bogus=1: Block format 'qcow2' does not support the "
              "option 'bogus'");
    // Without a format the options wait for the probed one (e2kvm-system checks them when it
    // opens the image, after a missing file has been reported, as qemu-system).
    EXPECT_EQ(parse({"-drive", "file=x,bogus=1"}).drives[0].driverOptions.count("bogus"), 1u);
    EXPECT_EQ(error({"-drive", "file=x,format=vmdk"}),
              "-drive file=x,format=vmdk: Unknown driver 'vmdk'");
    EXPECT_EQ(error({"-drive", "file=x,driver=blkdebug,foo=1"}),
              "-drive file=x,driver=blkdebug,foo=1: Block protocol 'blkdebug' doesn't support the "
              "option 'foo'");
    EXPECT_EQ(error({"-drive", "file=x,format=qcow2,file.driver=file,file.foo=1"}),
              "-drive file=x,format=qcow2,file.driver=file,file.foo=1: Block protocol 'file' "
              "doesn't support the option 'foo'");
    EXPECT_EQ(error({"-drive", "file=x,readonly=maybe"}),
              "-drive file=x,readonly=maybe: Parameter 'readonly' expects 'on' or 'off'");
    EXPECT_EQ(error({"-drive", "format=raw"}),
              "-drive format=raw: a drive needs file=IMAGE (empty drives are not supported)");
    EXPECT_EQ(error({"-drive", "file=x,cache=bogus"}),
              "-drive file=x,cache=bogus: invalid cache option");
    EXPECT_EQ(error({"-drive", "file=x,aio=bogus"}), "-drive file=x,aio=bogus: invalid aio option");
    EXPECT_EQ(error({"-drive", "file=x,aio=native"}),
              "-drive file=x,aio=native: aio=native was specified, but it requires "
              "cache.direct=on, which was not specified.");
    EXPECT_EQ(error({"-drive", "x.img"}), "-drive x.img: Invalid parameter 'x.img'");
    EXPECT_EQ(error({"-drive", "file=x,file=y"}),
              "-drive file=x,file=y: Parameter 'file' given twice");
    EXPECT_EQ(error({"-drive", "file=x,if=floppy"})
                  .rfind("-drive file=x,if=floppy: unsupported "
                         "interface 'floppy'",
                         0),
              0u);
    EXPECT_EQ(error({"-drive", "file=x,file.locking=maybe"}),
              "-drive file=x,file.locking=maybe: Parameter 'locking' does not accept value "
              "'maybe'");
    EXPECT_EQ(error({"-drive", "file=x,id=9lives"}),
              "-drive file=x,id=9lives: Parameter 'id' expects an identifier");
    EXPECT_EQ(error({"-drive", "file=a,id=d", "-drive", "file=b,id=d"}),
              "-drive file=b,id=d: Duplicate ID 'd' for drive");
    EXPECT_EQ(error({"-drive", "file=a,node-name=n", "-drive", "file=b,node-name=n"}),
              "-drive file=b,node-name=n: Duplicate nodes with node-name='n'");
    EXPECT_EQ(
        error({"-drive", "file=x,media=cdrom"})
            .rfind("-drive file=x,media=cdrom: media 'cdrom' with an image is not supported", 0),
        0u);
    EXPECT_EQ(error({"-drive", "file=x,media=tape"}),
              "-drive file=x,media=tape: 'tape' invalid media");
    EXPECT_EQ(parse({"-drive", "file=x,,"}).drives[0].file, "x,");
    std::vector<std::string> nine;
    for (int i = 0; i < 9; ++i) {
        nine.push_back("-drive");
        nine.push_back("file=d" + std::to_string(i));
    }
    EXPECT_EQ(error(nine),
              "-drive file=d8: too many drives (the e2k-vm board has 8 block devices)");
    nine[nine.size() - 1] += ",if=none,id=extra"; // a ninth node that is not a disk is fine
    EXPECT_EQ(error(nine), "(accepted)");
}

TEST(SystemOptions, Display) {
    EXPECT_EQ(parse({"-display", "sdl"}).display.kind, DisplayKind::Sdl);
    EXPECT_EQ(parse({"-display", "none"}, kDesktop).display.kind, DisplayKind::None);
    DisplayOptions d =
        parse({"-display", "sdl,integer-scale=on,window-close=off,show-cursor=off"}).display;
    EXPECT_TRUE(d.integerScale);
    EXPECT_FALSE(d.windowClose);
    EXPECT_FALSE(d.showCursor);
    EXPECT_FALSE(d.fullScreen);
    EXPECT_TRUE(parse({"-display", "sdl", "-full-screen"}).display.fullScreen);
    EXPECT_TRUE(parse({"-display", "sdl,gl=off"}).display.kind == DisplayKind::Sdl);
    EXPECT_EQ(error({"-display", "gtk"}), "-display gtk: Display 'gtk' is not available");
    EXPECT_EQ(error({"-display", "sdl,zoom=2"}), "-display sdl,zoom=2: Invalid parameter 'zoom'");
    EXPECT_EQ(error({"-display", "sdl,gl=on"}),
              "-display sdl,gl=on: OpenGL is not supported by the SDL display");
    EXPECT_EQ(error({"-display", "none,x=1"}), "-display none,x=1: Invalid parameter 'x'");
    EXPECT_EQ(error({"-display"}), "-display: requires an argument");
}

TEST(SystemOptions, PreferredDisplaySize) {
    SystemOptions d = parse({});
    EXPECT_EQ(d.displayWidth, 640u);
    EXPECT_EQ(d.displayHeight, 480u);
    SystemOptions o = parse({"-g", "1280x800"});
    EXPECT_EQ(o.displayWidth, 1280u);
    EXPECT_EQ(o.displayHeight, 800u);
    EXPECT_EQ(parse({"-g", "1920x1080x32"}).displayWidth, 1920u);
    EXPECT_EQ(error({"-g", "1280x800x16"}),
              "-g 1280x800x16: the e2k-vm display has 32 bits per pixel only");
    EXPECT_EQ(error({"-g", "2000x800"}),
              "-g 2000x800: the display size must be between 1x1 and 1920x1080");
    EXPECT_EQ(error({"-g", "0x10"}), "-g 0x10: the display size must be between 1x1 and 1920x1080");
    for (const char* bad :
         {"1280", "1280x", "x800", "12a0x800", "1280x800x32x1", "", "99999999999x1", "-1x5"})
        EXPECT_EQ(error({"-g", bad}),
                  std::string("-g ") + bad + ": expected WIDTHxHEIGHT, e.g. 1024x768")
            << bad;
    EXPECT_EQ(error({"-g"}), "-g: requires an argument");
}

TEST(SystemOptions, Serial) {
    SystemOptions o = parse({"-serial", "stdio"});
    EXPECT_EQ(o.serial.kind, SerialKind::Stdio);
    EXPECT_FALSE(o.serial.escapeKeys);
    o = parse({"-serial", "file:/tmp/x,y.log"});
    EXPECT_EQ(o.serial.kind, SerialKind::File);
    EXPECT_EQ(o.serial.path, "/tmp/x,y.log");
    EXPECT_EQ(parse({"-serial", "none"}).serial.kind, SerialKind::None);
    EXPECT_EQ(parse({"-serial", "null"}).serial.kind, SerialKind::None);
    EXPECT_EQ(error({"-serial", "tcp:localhost:4444"}),
              "-serial tcp:localhost:4444: 'tcp' is not a supported serial backend (stdio, "
              "file:PATH, none)");
    EXPECT_EQ(error({"-serial", "file:"}), "-serial file:: file: needs a path");
    EXPECT_EQ(error({"-serial", "stdio", "-serial", "none"}),
              "-serial none: the e2k-vm board has one serial port");
}

TEST(SystemOptions, Nographic) {
    SystemOptions o = parse({"-nographic"}, kDesktop);
    EXPECT_EQ(o.display.kind, DisplayKind::None);
    EXPECT_EQ(o.serial.kind, SerialKind::Stdio);
    EXPECT_TRUE(o.serial.escapeKeys);
    o = parse({"-nographic", "-serial", "file:s.log"}, kDesktop);
    EXPECT_EQ(o.serial.kind, SerialKind::File);
    EXPECT_FALSE(o.serial.escapeKeys);
    EXPECT_EQ(error({"-nographic", "-display", "sdl"}), "-nographic cannot be used with -display");
}

TEST(SystemOptions, QmpAndMisc) {
    SystemOptions o = parse({"-qmp", "unix:/tmp/q.sock,server=on,wait=off", "-qmp",
                             "unix:/tmp/q2.sock,server=on,wait=off", "-S", "-name", "demo", "-bios",
                             "rom.bin", "-kernel", "k.elf"});
    ASSERT_EQ(o.qmp.size(), 2u);
    EXPECT_EQ(o.qmp[0], "unix:/tmp/q.sock,server=on,wait=off");
    EXPECT_TRUE(o.startPaused);
    EXPECT_EQ(o.name, "demo");
    EXPECT_EQ(o.bios, "rom.bin");
    EXPECT_EQ(o.kernel, "k.elf");
    EXPECT_EQ(parse({"-name", "guest=vm1,debug-threads=on"}).name, "vm1");
    EXPECT_EQ(error({"-name", "guest=vm1,colour=red"}),
              "-name guest=vm1,colour=red: Invalid parameter 'colour'");
    EXPECT_EQ(error({"-qmp", "unix:/tmp/q.sock,server=on,wait=on"})
                  .rfind("-qmp unix:/tmp/q.sock,server=on,wait=on: ", 0),
              0u);
    EXPECT_EQ(error({"-qmp", "telnet:1"}).rfind("-qmp telnet:1: ", 0), 0u);
    EXPECT_TRUE(parse({"-h"}).help);
    EXPECT_TRUE(parse({"--help"}).help);
    EXPECT_TRUE(parse({"-help"}).help);
    EXPECT_TRUE(parse({"--version"}).version);
    EXPECT_EQ(error({"-foo"}), "-foo: invalid option");
    EXPECT_EQ(error({"--frobnicate"}), "-frobnicate: invalid option");
    EXPECT_EQ(error({"-bios", ""}), "-bios: needs a file name");
    EXPECT_EQ(error({"-kernel"}), "-kernel: requires an argument");
}

TEST(SystemOptions, SplitQemuOpts) {
    auto items = splitQemuOpts("sdl,a=1,b=x,,y", "type");
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0], (std::pair<std::string, std::string>{"type", "sdl"}));
    EXPECT_EQ(items[2], (std::pair<std::string, std::string>{"b", "x,y"}));
    // A comma at the end ends the last item, as in QEMU ("if=none," in iotest 153).
    auto trailing = splitQemuOpts("file=t.qcow2,if=none,", "");
    ASSERT_EQ(trailing.size(), 2u);
    EXPECT_EQ(trailing[1], (std::pair<std::string, std::string>{"if", "none"}));
    auto escaped = splitQemuOpts("a=1,,,", "");
    ASSERT_EQ(escaped.size(), 1u);
    EXPECT_EQ(escaped[0], (std::pair<std::string, std::string>{"a", "1,"}));
    EXPECT_THROW(splitQemuOpts(",a=1", ""), OptionError);
    EXPECT_THROW(splitQemuOpts("=1", ""), OptionError);
    EXPECT_THROW(splitQemuOpts("a=1,b", ""), OptionError);
}

TEST(SystemOptions, UsageMentionsEveryOption) {
    std::string u = usageText();
    for (const char* opt : {"-m ", "-drive ", "-bios ", "-kernel ", "-display sdl", "-display none",
                            "-serial ", "-qmp ", "-S ", "-name ", "-nographic", "-g ", "--help",
                            "--version", "Ctrl+Alt+F", "Ctrl+Alt+G"})
        EXPECT_NE(u.find(opt), std::string::npos) << opt;
}

// -object: the object-add arguments, numbers as integers, dotted keys nested.
TEST(SystemOptions, Objects) {
    SystemOptions o = parse({"-object", "throttle-group,id=tg0,x-bps-total=1024", "-object",
                             "throttle-group,id=tg1,limits.iops-total=10,limits.iops-size=512"});
    ASSERT_EQ(o.objects.size(), 2u);
    EXPECT_EQ(o.objects[0].arguments.serialize(),
              R"({"qom-type": "throttle-group", "id": "tg0", "x-bps-total": 1024})");
    EXPECT_EQ(o.objects[1].arguments.serialize(),
              R"({"qom-type": "throttle-group", "id": "tg1", "limits": {"iops-total": 10, )"
              R"("iops-size": 512}})");
    EXPECT_EQ(error({"-object", "throttle-group,id=t,x-bps-total=lots"}),
              "-object throttle-group,id=t,x-bps-total=lots: Parameter 'x-bps-total' expects an "
              "integer");
    EXPECT_EQ(error({"-object", "iothread,id=a,id=b"}),
              "-object iothread,id=a,id=b: Parameter 'id' given twice");
}

// What QEMU's iotests harness passes to QEMU_PROG.
TEST(SystemOptions, QemuHarnessOptions) {
    SystemOptions o = parse({"-machine", "help"});
    EXPECT_TRUE(o.machineHelp);
    o = parse({"-machine", "none"});
    EXPECT_TRUE(o.noMachine);
    o = parse({"-machine", "e2k-vm,accel=qtest", "-nodefaults", "-vga", "none", "-display", "none",
               "-accel", "tcg", "-monitor", "none", "-object", "iothread,id=io0"});
    EXPECT_FALSE(o.noMachine);
    EXPECT_TRUE(o.noGuestCode);
    o = parse({"-accel", "kvm:tcg"});
    EXPECT_FALSE(o.noGuestCode);
    EXPECT_TRUE(parse({"-accel", "help"}).accelHelp);
    o = parse({"-nographic", "-qmp", "stdio", "-serial", "none"});
    EXPECT_TRUE(o.qmpStdio);
    EXPECT_EQ(o.serial.kind, SerialKind::None);
    o = parse({"-nographic", "-qmp", "stdio"});
    EXPECT_EQ(o.serial.kind, SerialKind::None) << "stdio is taken by the monitor";
    o = parse({"-nographic", "-monitor", "stdio", "-serial", "none"}); // iotests 028, 102
    EXPECT_TRUE(o.hmpStdio);
    EXPECT_FALSE(o.qmpStdio);
    EXPECT_EQ(o.serial.kind, SerialKind::None);
    o = parse({"-nographic", "-qmp-pretty", "stdio"}); // iotests 191, 195, 227
    EXPECT_TRUE(o.qmpStdio);
    EXPECT_TRUE(o.qmpPretty);
    EXPECT_EQ(o.serial.kind, SerialKind::None);
    EXPECT_FALSE(parse({"-qmp", "stdio"}).qmpPretty);
    o = parse({"-chardev", "socket,id=mon,path=/tmp/m.sock", "-mon", "chardev=mon,mode=control",
               "-chardev", "socket,id=srv,path=/tmp/s.sock,server=on,wait=off", "-mon",
               "chardev=srv,mode=control"});
    ASSERT_EQ(o.qmpConnect.size(), 1u);
    EXPECT_EQ(o.qmpConnect[0], "/tmp/m.sock");
    ASSERT_EQ(o.qmp.size(), 1u);
    EXPECT_EQ(o.qmp[0], "unix:/tmp/s.sock,server=on,wait=off");
}

TEST(SystemOptions, QemuHarnessOptionErrors) {
    EXPECT_EQ(error({"-machine", "pc"}),
              "-machine pc: unsupported machine type\nUse -machine help to list supported "
              "machines");
    EXPECT_EQ(error({"-accel", "kvm"}), "-accel kvm: invalid accelerator kvm");
    EXPECT_EQ(error({"-vga", "std"}), "-vga std: the e2k-vm board has no VGA (only 'none')");
    EXPECT_EQ(error({"-mon", "chardev=x,mode=control"}),
              "-mon chardev=x,mode=control: chardev \"x\" "
              "not found");
    EXPECT_EQ(error({"-qmp", "stdio", "-serial", "stdio"}),
              "-serial stdio: cannot use stdio by multiple character devices");
    EXPECT_EQ(error({"-qmp", "stdio", "-monitor", "stdio"}),
              "-monitor stdio: cannot use stdio by multiple character devices");
    EXPECT_EQ(error({"-monitor", "stdio", "-qmp-pretty", "stdio"}),
              "-qmp-pretty stdio: cannot use stdio by multiple character devices");
    EXPECT_EQ(error({"-monitor", "stdio", "-serial", "stdio"}),
              "-serial stdio: cannot use stdio by multiple character devices");
    EXPECT_EQ(error({"-chardev", "file,id=f,path=/tmp/x"}),
              "-chardev file,id=f,path=/tmp/x: e2kvm-system supports 'socket' chardevs only");
}

TEST(SystemOptions, DriveCacheAioAndEmptyCdrom) {
    // As iotests.VM.add_drive passes them.
    for (const char* cache : {"none", "writeback", "unsafe", "directsync", "writethrough"})
        for (const char* aio : {"threads", "native", "io_uring"}) {
            std::string spec = std::string("if=virtio,id=drive0,file=t.qcow2,format=qcow2,cache=") +
                               cache + ",aio=" + aio;
            bool direct = std::string(cache) == "none" || std::string(cache) == "directsync";
            if (std::string(aio) == "native" && !direct) {
                EXPECT_NE(error({"-drive", spec}), "(accepted)") << spec;
                continue;
            }
            SystemOptions o = parse({"-drive", spec});
            ASSERT_EQ(o.drives.size(), 1u);
            EXPECT_EQ(o.drives[0].cache, cache);
            EXPECT_EQ(o.drives[0].aio, aio);
            EXPECT_TRUE(o.drives[0].attached);
        }
    SystemOptions o = parse({"-drive", "file=a", "-drive", "media=cdrom,if=ide", "-drive",
                             "if=ide,media=cdrom,id=cd9"});
    ASSERT_EQ(o.drives.size(), 3u);
    EXPECT_TRUE(o.drives[1].noMedium);
    EXPECT_FALSE(o.drives[1].attached);
    EXPECT_EQ(o.drives[1].id, "ide0-cd0"); // QEMU's name for the first IDE unit
    EXPECT_EQ(o.drives[2].id, "cd9");
    EXPECT_EQ(o.drives[0].id, "disk0");
}

TEST(SystemOptions, HelpRequests) {
    SystemOptions o =
        parse({"-nodefaults", "-display", "none", "-accel", "qtest", "-drive", "format=help"});
    EXPECT_TRUE(o.formatHelp);
    EXPECT_TRUE(parse({"-M", "none", "-device", "help"}).deviceHelp);
    // iotests read the second word list of the first line (read-write formats).
    std::string text = formatHelpText();
    EXPECT_EQ(text.rfind("Supported formats: ", 0), 0u);
    EXPECT_NE(text.find("\nSupported formats (read-only): "), std::string::npos);
    EXPECT_NE(text.find(" qcow2 "), std::string::npos);
    std::string devices = e2kvm::guestdev::deviceHelpText();
    EXPECT_NE(devices.find("name \"virtio-blk-pci\", bus PCI, alias \"virtio-blk\"\n"),
              std::string::npos);
    EXPECT_NE(devices.find("name \"scsi-hd\", bus SCSI, desc \"virtual SCSI disk\"\n"),
              std::string::npos);
    EXPECT_NE(devices.find("name \"virtio-scsi-pci\", bus PCI, alias \"virtio-scsi\"\n"),
              std::string::npos);
}

TEST(SystemOptions, Devices) {
    SystemOptions o =
        parse({"-drive", "if=none,id=d1,file=a.img", "-blockdev",
               "driver=qcow2,file.driver=file,file.filename=b.qcow2,node-name=src", "-device",
               "virtio-blk,drive=d1,id=vd1", "-device", "virtio-scsi", "-device",
               "scsi-hd,id=sda,drive=src", "-device", "virtio-blk-device,drive=src,id=x"});
    ASSERT_EQ(o.devices.size(), 4u);
    EXPECT_EQ(o.devices[0].driver, "virtio-blk-pci"); // the alias names the PCI model
    EXPECT_EQ(o.devices[0].drive, "d1");
    EXPECT_EQ(o.devices[0].id, "vd1");
    EXPECT_EQ(o.devices[1].driver, "virtio-scsi-pci");
    EXPECT_EQ(o.devices[1].drive, "");
    EXPECT_EQ(o.devices[2].driver, "scsi-hd");
    EXPECT_EQ(o.devices[2].drive, "src");
    EXPECT_EQ(o.devices[3].driver, "virtio-blk-device");

    // qemu-system-x86_64's messages.
    EXPECT_EQ(error({"-device", "foo"}), "-device foo: 'foo' is not a valid device model name");
    EXPECT_EQ(error({"-device", "virtio-blk-pci"}),
              "-device virtio-blk-pci: drive property not set");
    EXPECT_EQ(error({"-device", "virtio-blk,drive=nosuch"}),
              "-device virtio-blk,drive=nosuch: Property 'virtio-blk-device.drive' can't find "
              "value 'nosuch'");
    EXPECT_EQ(
        error({"-drive", "if=none,id=d0,file=a", "-device", "virtio-blk-pci,drive=d0,bogus=1"}),
        "-device virtio-blk-pci,drive=d0,bogus=1: Property 'virtio-blk-pci.bogus' not found");
    EXPECT_EQ(error({"-drive", "id=d0,file=a", "-device", "virtio-blk,drive=d0"}),
              "-device virtio-blk,drive=d0: Drive 'd0' is already in use by another device");
}

TEST(SystemOptions, Blockdev) {
    SystemOptions o =
        parse({"-blockdev",
               "driver=qcow2,file.driver=file,file.filename=/t/a,,b.qcow2,node-name=source,"
               "read-only=on,cache.direct=off",
               "-blockdev", R"({"driver": "null-co", "node-name": "n", "size": 1048576})",
               "-blockdev", "null-co,node-name=m,size=1M,read-zeroes=on"});
    ASSERT_EQ(o.blockdevs.size(), 3u);
    EXPECT_EQ(o.blockdevs[0].nodeName, "source");
    auto same = [](const e2kvm::qmp::Json& got, const char* want) {
        return got == e2kvm::qmp::parseJson(want) ? std::string("same") : got.serialize();
    };
    EXPECT_EQ(same(o.blockdevs[0].options,
                   R"({"driver":"qcow2","file":{"driver":"file","filename":"/t/a,b.qcow2"},)"
                   R"("node-name":"source","read-only":true,"cache":{"direct":false}})"),
              "same");
    EXPECT_EQ(o.blockdevs[1].nodeName, "n");
    EXPECT_EQ(o.blockdevs[1].options.find("size")->asInt(), 1048576);
    EXPECT_EQ(same(o.blockdevs[2].options,
                   R"({"driver":"null-co","node-name":"m","size":1048576,"read-zeroes":true})"),
              "same");

    EXPECT_EQ(error({"-blockdev", "driver=qcow2,file.driver=file,read-only=maybe,node-name=x"}),
              "-blockdev driver=qcow2,file.driver=file,read-only=maybe,node-name=x: Parameter "
              "'read-only' expects 'on' or 'off'");
    EXPECT_EQ(error({"-blockdev", "driver=qcow2,file=f,file.driver=file,node-name=x"}),
              "-blockdev driver=qcow2,file=f,file.driver=file,node-name=x: Parameters 'file.*' "
              "used inconsistently");
    EXPECT_EQ(error({"-blockdev", "driver=raw,file=f"}),
              "-blockdev driver=raw,file=f: 'node-name' must be specified for the root node");
    EXPECT_EQ(error({"-blockdev", "driver=raw,file=f,node-name=a", "-blockdev",
                     "driver=raw,file=g,node-name=a"}),
              "-blockdev driver=raw,file=g,node-name=a: Duplicate nodes with node-name='a'");
}

TEST(SystemOptions, Qtest) {
    EXPECT_EQ(parse({"-qtest", "unix:path=/tmp/q.sock", "-accel", "qtest"}).qtest, "/tmp/q.sock");
    EXPECT_EQ(parse({"-qtest", "unix:/tmp/q.sock"}).qtest, "/tmp/q.sock");
    EXPECT_EQ(error({"-qtest", "tcp:localhost:4000"}),
              "-qtest tcp:localhost:4000: e2kvm-system takes unix:path=SOCK or unix:SOCK");
}

// -set GROUP.ID.ARG=VALUE (SetOption.cpp): the named option as if ARG=VALUE had been written.
TEST(SystemOptions, SetChangesTheOptionOfThatId) {
    SystemOptions o = parse({"-drive", "if=none,id=d0,file=a.img,format=raw", "-object",
                             "iothread,id=io0", "-device", "virtio-scsi,id=hba0", "-set",
                             "device.hba0.iothread=io0", "-set", "drive.d0.format=qcow2", "-set",
                             "drive.d0.file=b,c.img", "-set", "object.io0.poll-max-ns=5"});
    ASSERT_EQ(o.drives.size(), 1u);
    EXPECT_EQ(o.drives[0].format, "qcow2");
    EXPECT_EQ(o.drives[0].file, "b,c.img");
    ASSERT_EQ(o.devices.size(), 1u);
    EXPECT_NE(o.devices[0].spec.find("iothread=io0"), std::string::npos) << o.devices[0].spec;
    ASSERT_EQ(o.objects.size(), 1u);
    EXPECT_NE(o.objects[0].spec.find("poll-max-ns=5"), std::string::npos) << o.objects[0].spec;
}

TEST(SystemOptions, SetErrorsAsQemu) {
    EXPECT_EQ(error({"-set", "device.hba0.iothread=iothread0"}),
              "-set device.hba0.iothread=iothread0: there is no device \"hba0\" defined");
    EXPECT_EQ(error({"-set", "drive.d0.format=raw", "-drive", "if=none,id=d0,file=a.img"}),
              "-set drive.d0.format=raw: there is no drive \"d0\" defined");
    EXPECT_EQ(error({"-device", "virtio-scsi,id=hba0", "-set", "foo.hba0.iothread=x"}),
              "-set foo.hba0.iothread=x: There is no option group 'foo'");
    EXPECT_EQ(error({"-device", "virtio-scsi,id=hba0", "-set", "device.hba0.iothread"}),
              "-set device.hba0.iothread: can't parse: \"device.hba0.iothread\"");
    EXPECT_EQ(error({"-set"}), "-set: requires an argument");
}
