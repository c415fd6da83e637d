// QMP over a real MachineRunner (through RunnerMachine): run state, stop/cont/system_reset,
// events, query-block naming the disk's node, quit. The machine stays paused (-S) or runs a
// ROM of zeros, whose outcome the test does not depend on.
#include "app/qmp/QmpSession.h"
#include "app/qmp/RunnerMachine.h"

#include "block/ImageOpen.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <mutex>

using namespace e2kvm;
using qmp::Json;
namespace fs = std::filesystem;

namespace {

Json call(qmp::QmpSession& s, const std::string& line) {
    return qmp::parseJson(s.feed(line + "\n"));
}

TEST(RunnerMachine, QmpControlsTheMachine) {
    char tmpl[] = "/tmp/e2kvm-qmp-runner-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    {
        std::string rom = dir + "/rom.bin";
        std::ofstream(rom) << std::string(64, '\0');
        block::CreateOptions o;
        o.format = "qcow2";
        o.size = 1 << 20;
        o.sizeGiven = true;
        block::createImage(dir + "/d.qcow2", o);

        vm::BlockNodeTable nodes;
        auto node = nodes.open(dir + "/d.qcow2", "qcow2", false, "d0");
        emu::MachineConfig config;
        config.name = "qmp-test";
        config.ramBytes = 16 << 20;
        config.biosPath = rom;
        config.deterministic = true;
        config.disks.push_back({"disk0", node->image, false});
        emu::MachineRunner runner(config);
        qmp::RunnerMachine machine(runner, &nodes);
        vm::NbdExportService nbd(nodes);
        qmp::QmpContext ctx(nodes, nbd, &machine);
        std::mutex m;
        std::vector<std::string> events;
        ctx.setEventSink([&](const std::string& e, const Json&) {
            std::lock_guard lock(m);
            events.push_back(e);
        });
        qmp::QmpSession s(ctx);
        call(s, R"({"execute": "qmp_capabilities"})");
        runner.start(true);
        EXPECT_EQ(
            call(s, R"({"execute": "query-status"})").find("return")->find("running")->asBool(),
            false);
        EXPECT_EQ(call(s, R"({"execute": "query-name"})").serialize(),
                  R"({"return": {"name": "qmp-test"}})");
        Json blocks = call(s, R"({"execute": "query-block"})");
        const Json& b0 = blocks.find("return")->asArray().at(0);
        EXPECT_EQ(b0.find("device")->asString(), "disk0");
        EXPECT_EQ(b0.find("inserted")->find("node-name")->asString(), "d0");
        EXPECT_EQ(call(s, R"({"execute": "system_reset"})").serialize(), R"({"return": {}})");
        EXPECT_EQ(call(s, R"({"execute": "cont"})").serialize(), R"({"return": {}})");
        EXPECT_EQ(call(s, R"({"execute": "stop"})").serialize(), R"({"return": {}})");
        EXPECT_EQ(call(s, R"({"execute": "quit"})").serialize(), R"({"return": {}})");
        ASSERT_TRUE(ctx.takeQuitRequest());
        ctx.finishQuit();
        EXPECT_EQ(
            call(s, R"({"execute": "query-status"})").find("return")->find("status")->asString(),
            "shutdown");
        std::lock_guard lock(m);
        ASSERT_FALSE(events.empty());
        EXPECT_NE(std::find(events.begin(), events.end(), "RESET"), events.end());
        EXPECT_NE(std::find(events.begin(), events.end(), "RESUME"), events.end());
        EXPECT_EQ(events.back(), "SHUTDOWN");
        EXPECT_EQ(std::count(events.begin(), events.end(), "SHUTDOWN"), 1);
    }
    fs::remove_all(dir);
}

} // namespace
