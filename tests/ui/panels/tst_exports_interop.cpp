// ExportsPanel against the reference NBD clients: one-click export of a temporary qcow2 with a
// dirty bitmap (the default port held busy, so the fallback port is used), then the panel's own
// nbdinfo and qemu-img commands are run through the shell and must list the dirty extents;
// connected clients are counted; Stop removes the export. Without nbdinfo or qemu-img on PATH
// the whole test exits 77, which ctest reports as skipped (SKIP_RETURN_CODE).
#include "TestImages.h"
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "ui/AppContext.h"
#include "ui/jobs/JobRunner.h"
#include "ui/log/LogModel.h"
#include "ui/panels/BitmapOperations.h"
#include "ui/panels/ExportsPanel.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageBox>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTest>

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {

constexpr uint64_t KiB = 1024, MiB = 1024 * KiB;
constexpr int kSkipReturnCode = 77; // ctest's SKIP_RETURN_CODE for this test (CMakeLists.txt)

struct Extent {
    uint64_t offset, length;
    bool dirty;
    bool operator==(const Extent&) const = default;
};

// Runs one shell command line with a timeout; returns stdout, fails the test on error.
QString runShell(const QString& command, int* exitCode = nullptr) {
    QProcess p;
    p.start("timeout", {"30", "bash", "-c", command});
    if (!p.waitForFinished(40000)) {
        p.kill();
        p.waitForFinished();
    }
    if (exitCode)
        *exitCode = p.exitCode();
    else if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        qWarning("%s failed: %s", qPrintable(command), p.readAllStandardError().constData());
    return QString::fromUtf8(p.readAllStandardOutput());
}

// nbdinfo --map lines: "offset length type description".
std::vector<Extent> parseNbdinfoMap(const QString& out) {
    std::vector<Extent> v;
    for (const QString& line : out.split('\n', Qt::SkipEmptyParts)) {
        QStringList f = line.simplified().split(' ');
        if (f.size() < 3)
            continue;
        v.push_back({f[0].toULongLong(), f[1].toULongLong(), f[2].toInt() == 1});
    }
    return v;
}

QString commandLine(const QString& commands, const QString& program) {
    for (const QString& line : commands.split('\n'))
        if (line.startsWith(program + " "))
            return line;
    return {};
}

// Holds 127.0.0.1:port if it is free (returns -1 if someone else has it: busy either way).
int occupyPort(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    // Connections of an earlier test on the port may linger in TIME_WAIT: listen all the same
    // (the server's own listen then fails, as it should).
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

int connectTo(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

} // namespace

class ExportsInteropTest : public QObject {
    Q_OBJECT
public:
    // Run by QTEST_MAIN before anything else: ends the test as skipped if a peer is missing.
    static void initMain();

private slots:
    void exportListsDirtyExtents();
    void inconsistentOrMissingBitmapRefused();
};

void ExportsInteropTest::initMain() {
    QStringList missing;
    for (const char* peer : {"nbdinfo", "qemu-img"})
        if (QStandardPaths::findExecutable(QString::fromLatin1(peer)).isEmpty())
            missing << QString::fromLatin1(peer);
    if (missing.isEmpty())
        return;
    std::printf("SKIP: %s not found on PATH (a peer this test compares with)\n",
                qPrintable(missing.join(QStringLiteral(", "))));
    std::fflush(stdout);
    std::exit(kSkipReturnCode);
}

void ExportsInteropTest::exportListsDirtyExtents() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QString file = dir.filePath("disk.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 4 * MiB, "ckpt1",
                              {{0, 4096}, {1 * MiB, 100 * KiB}, {4 * MiB - 1, 1}});
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports(nodes);
    JobRunner jobs;
    LogModel log;
    AppContext ctx{&nodes, &exports, &jobs, &log};
    // Freeze ckpt1 by starting the next checkpoint, as the bitmaps panel does.
    auto node = nodes.open(file.toStdString(), "", false);
    node->image->bitmaps()->apply(checkpointActions(*node->image->bitmaps(), "ckpt2", 0));
    ExportsPanel panel(ctx);
    panel.setImages({file});
    panel.setCurrentImage(file);
    QCOMPARE(panel.offeredBitmaps(), (QStringList{"ckpt1", "ckpt2"}));
    // One click exports the frozen checkpoint; the recording bitmap starts unticked.
    QCOMPARE(panel.currentChoice().bitmaps, QStringList{"ckpt1"});
    QVERIFY(!panel.currentChoice().writable);

    int blocker = occupyPort(ExportsPanel::kDefaultPort);
    ExportChoice choice;
    choice.file = file;
    choice.bitmaps = {"ckpt1"};
    QString name = panel.exportImage(choice);
    if (blocker >= 0)
        ::close(blocker);
    QCOMPARE(name, QStringLiteral("disk.qcow2"));
    QVERIFY(panel.findChildren<QMessageBox*>().isEmpty());
    uint16_t port = exports.address().port;
    QVERIFY(port != ExportsPanel::kDefaultPort); // it was busy: a free port was taken
    QCOMPARE(panel.uriFor(name), QStringLiteral("nbd://127.0.0.1:%1/disk.qcow2").arg(port));
    QCOMPARE(panel.exportRows(), 1);
    QVERIFY(!exports.list().front().writable); // read-only by default

    QString commands = panel.commandsFor(name);
    QString nbdinfo = commandLine(commands, "nbdinfo");
    QCOMPARE(nbdinfo, QStringLiteral("nbdinfo --map=qemu:dirty-bitmap:ckpt1 "
                                     "nbd://127.0.0.1:%1/disk.qcow2")
                          .arg(port));
    std::vector<Extent> map = parseNbdinfoMap(runShell(nbdinfo));
    std::vector<Extent> expected = {{0, 64 * KiB, true},
                                    {64 * KiB, 960 * KiB, false},
                                    {1 * MiB, 128 * KiB, true},
                                    {1 * MiB + 128 * KiB, 4 * MiB - 1 * MiB - 192 * KiB, false},
                                    {4 * MiB - 64 * KiB, 64 * KiB, true}};
    QCOMPARE(map.size(), expected.size());
    QVERIFY(map == expected);

    // qemu-img reads the same bitmap (dirty areas come back as "data": false).
    QString qemuImg = commandLine(commands, "qemu-img");
    QVERIFY2(qemuImg.contains(QStringLiteral("server.port=%1").arg(port)), qPrintable(qemuImg));
    QJsonArray json = QJsonDocument::fromJson(runShell(qemuImg).toUtf8()).array();
    std::vector<Extent> fromQemu;
    for (const QJsonValue& v : json) {
        QJsonObject o = v.toObject();
        Extent e{uint64_t(o["start"].toInteger()), uint64_t(o["length"].toInteger()),
                 !o["data"].toBool()};
        if (!fromQemu.empty() && fromQemu.back().dirty == e.dirty)
            fromQemu.back().length += e.length; // qemu-img splits runs at its own boundaries
        else
            fromQemu.push_back(e);
    }
    QVERIFY2(fromQemu == expected, qPrintable(QJsonDocument(json).toJson()));

    // A client connected: the count shows on the next refresh.
    int client = connectTo(port);
    QVERIFY(client >= 0);
    QTRY_VERIFY_WITH_TIMEOUT(panel.clientsText().contains("1 client"), 10000);
    ::close(client);
    QTRY_VERIFY_WITH_TIMEOUT(panel.clientsText().contains("0 client"), 10000);

    // A second export of the same file gets its own name.
    QString second = panel.exportImage(choice);
    QCOMPARE(second, QStringLiteral("disk.qcow2-2"));
    QVERIFY(panel.stopExport(second));

    QVERIFY(panel.stopExport(name));
    QCOMPARE(panel.exportRows(), 0);
    int code = 0;
    runShell(nbdinfo, &code);
    QVERIFY(code != 0); // gone
    exports.stop();
}

void ExportsInteropTest::inconsistentOrMissingBitmapRefused() {
    QTemporaryDir dir;
    QString file = dir.filePath("d.qcow2");
    test::makeQcow2WithBitmap(file.toStdString(), 1 * MiB, "b", {});
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports(nodes);
    LogModel log;
    AppContext ctx{&nodes, &exports, nullptr, &log};
    ExportsPanel panel(ctx);
    ExportChoice choice;
    choice.file = file;
    choice.bitmaps = {"nope"};
    QVERIFY(panel.exportImage(choice).isEmpty());
    auto boxes = panel.findChildren<QMessageBox*>("panelErrorBox");
    QCOMPARE(boxes.size(), 1);
    QVERIFY2(boxes[0]->text().contains("nope"), qPrintable(boxes[0]->text()));
    QVERIFY(!exports.running()); // nothing started for a refused export
}

QTEST_MAIN(ExportsInteropTest)
#include "tst_exports_interop.moc"
