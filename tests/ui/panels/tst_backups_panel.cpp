// The Backups tab: restore points of a VM's disk through app/backup. A stopped VM's qcow2 disk
// (not open in the process: read as an image file): Back up now twice with a write between
// lists one full and one incremental point, the folder is kept in the VM's definition, Verify
// finds both intact, each point restores to a raw image byte for byte as the disk was, onto the
// disk after the confirmation, and as a new VM; the restored disk lost its checkpoint, and the
// tab says the next point is full; "keep N" prunes. The running demo VM (MainWindow, the guest
// writing records): two points while it runs, the latest restores to the disk as it was at the
// click, not as the guest and the test wrote it after, restoring onto its disk is refused, and
// the tab is grabbed as a PNG (kept in $E2KVM_SMOKE_KEEP when set).
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/JobTable.h"
#include "app/vmcore/NbdExportService.h"
#include "app/vmcore/PointInTimeExports.h"
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "ui/AppContext.h"
#include "ui/console/ConsoleWidget.h"
#include "ui/jobs/JobRunner.h"
#include "ui/library/DemoVm.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/log/LogModel.h"
#include "ui/mainwindow/MainWindow.h"
#include "ui/mainwindow/VmSession.h"
#include "ui/panels/BackupsPanel.h"

#include <QApplication>
#include <QCheckBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QMessageBox>
#include <QPushButton>
#include <QSet>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {

// Where two disk contents differ first and last ("" if equal), for failure messages.
std::string difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    if (a == b)
        return {};
    if (a.size() != b.size())
        return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
    size_t first = 0, last = a.size() - 1;
    while (a[first] == b[first])
        ++first;
    while (a[last] == b[last])
        --last;
    return "differ from byte " + std::to_string(first) + " to " + std::to_string(last);
}

constexpr uint64_t kDiskSize = 8ull << 20;

QPushButton* button(QWidget* parent, const QString& text) {
    for (QPushButton* b : parent->findChildren<QPushButton*>())
        if (b->text().remove(QLatin1Char('&')) == text)
            return b;
    return nullptr;
}

std::vector<uint8_t> fileContents(const QString& path, const std::string& format) {
    block::OpenOptions o;
    o.format = format;
    o.readOnly = true;
    auto image = block::openImage(path.toStdString(), o);
    std::vector<uint8_t> out(image->size());
    image->read(0, out);
    return out;
}

void writeDisk(const QString& path, uint64_t offset, uint64_t length, uint8_t value) {
    block::OpenOptions o;
    o.format = "qcow2";
    o.readOnly = false;
    auto image = block::openImage(path.toStdString(), o);
    std::vector<uint8_t> data(length, value);
    image->write(offset, data);
    image->flush();
}

// Clicks the button of the next modal message box (the restore question) as soon as it shows.
void answerNextQuestion(const QString& buttonText, bool* answered) {
    auto* timer = new QTimer(qApp);
    timer->setInterval(20);
    QObject::connect(timer, &QTimer::timeout, [timer, buttonText, answered] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box)
            return;
        for (QAbstractButton* b : box->buttons())
            if (b->text() == buttonText) {
                *answered = true;
                b->click();
            }
        timer->deleteLater();
    });
    timer->start();
}

struct Services {
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports{nodes};
    vm::JobTable blockJobs{nodes};
    vm::PointInTimeExports pointInTime{nodes, blockJobs, exports};
    JobRunner jobs;
    LogModel log;
    AppContext ctx{&nodes, &exports, &jobs, &log, &blockJobs, &pointInTime};
};

} // namespace

class BackupsPanelTest : public QObject {
    Q_OBJECT
private slots:
    void definitionKeepsTheBackupSettings();
    void stoppedVmBackupVerifyRestore();
    void stoppedVmInTheWindow();
    void eachDiskHasItsOwnFolder();
    void runningVmBackupIsAPointInTime();
};

void BackupsPanelTest::definitionKeepsTheBackupSettings() {
    VmDefinition def;
    def.name = QStringLiteral("Box");
    def.uuid = QUuid::createUuid();
    def.disks.append(VmDisk{QStringLiteral("/tmp/box.qcow2")});
    QJsonObject plain = toJson(def);
    QVERIFY(!plain.contains(QStringLiteral("backup"))); // old files look as before
    QCOMPARE(fromJson(plain, QStringLiteral("t")).backupDir, QString());
    def.backupDir = QStringLiteral("/srv/backups/box");
    def.backupKeep = 5;
    VmDefinition back = fromJson(toJson(def), QStringLiteral("t"));
    QCOMPARE(back.backupDir, def.backupDir);
    QCOMPARE(back.backupKeep, 5);
    QCOMPARE(back.backupCompression, QString());
    def.backupCompression = QStringLiteral("zstd");
    QCOMPARE(fromJson(toJson(def), QStringLiteral("t")).backupCompression, QStringLiteral("zstd"));
    QJsonObject badCompression = toJson(def);
    badCompression.insert(QStringLiteral("backup"),
                          QJsonObject{{QStringLiteral("compression"), QStringLiteral("lz4")}});
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, fromJson(badCompression, QStringLiteral("t")));
    QJsonObject bad = toJson(def);
    bad.insert(QStringLiteral("backup"), QJsonObject{{QStringLiteral("keep"), -1}});
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, fromJson(bad, QStringLiteral("t")));
}

void BackupsPanelTest::stoppedVmBackupVerifyRestore() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    Services s;
    const QString disk = tmp.filePath(QStringLiteral("box-disk0.qcow2"));
    block::CreateOptions c;
    c.format = "qcow2";
    c.size = kDiskSize;
    c.sizeGiven = true;
    block::createImage(disk.toStdString(), c);
    writeDisk(disk, 0, 256 << 10, 0x11);
    writeDisk(disk, 3 << 20, 64 << 10, 0x22);

    VmLibrary library(tmp.filePath(QStringLiteral("vms")));
    VmDefinition def;
    def.name = QStringLiteral("Box");
    def.uuid = QUuid::createUuid();
    def.disks.append(VmDisk{disk, QStringLiteral("qcow2"), false});
    library.add(def);
    const QString dataDir = tmp.filePath(QStringLiteral("data"));
    BackupsPanel panel(s.ctx, library, dataDir);
    panel.resize(1000, 600);
    panel.setVm(QStringLiteral("Box"));
    QSignalSpy finished(&panel, &BackupsPanel::operationFinished);
    QPushButton* backUp = button(&panel, QStringLiteral("Back up now"));
    QPushButton* verify = button(&panel, QStringLiteral("Verify"));
    QPushButton* restoreDisk = button(&panel, QStringLiteral("Restore onto disk…"));
    QVERIFY(backUp && verify && restoreDisk);
    QVERIFY(backUp->isEnabled());
    QVERIFY(!verify->isEnabled()); // nothing to verify yet
    QCOMPARE(panel.backupRoot(), QDir(dataDir).filePath(QStringLiteral("backups/Box")));
    const QString diskDir = panel.diskBackupDir(0);
    QCOMPARE(diskDir, panel.backupRoot() + QStringLiteral("/disk0"));

    // Whether operation number `count` ended, and succeeded.
    auto waitDone = [&](int count) -> bool {
        if (!QTest::qWaitFor([&] { return finished.count() >= count; }, 60000))
            return false;
        return finished.count() == count && finished.at(count - 1).at(0).toBool();
    };

    // First point: full.
    const std::vector<uint8_t> atFirst = fileContents(disk, "qcow2");
    QTest::mouseClick(backUp, Qt::LeftButton);
    QVERIFY(panel.busy());
    QVERIFY2(waitDone(1), qPrintable(panel.messageText()));
    QVERIFY2(panel.messageText().contains(QStringLiteral("point 1 (full)")),
             qPrintable(panel.messageText()));
    // The folder is now kept in the definition (and in its file).
    VmLibrary reread(library.directory());
    reread.reload();
    QCOMPARE(reread.at(reread.indexOf(QStringLiteral("Box"))).backupDir, panel.backupRoot());
    QVERIFY(QFileInfo::exists(diskDir + QStringLiteral("/e2kvm-backup.json")));

    // A write, then the second point: incremental, holding about what changed.
    writeDisk(disk, 5 << 20, 128 << 10, 0x33);
    const std::vector<uint8_t> atSecond = fileContents(disk, "qcow2");
    QTest::mouseClick(backUp, Qt::LeftButton);
    QVERIFY2(waitDone(2), qPrintable(panel.messageText()));
    const RestorePointTableModel& model = panel.pointsModel();
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.index(0, RestorePointTableModel::TypeCol).data().toString(),
             QStringLiteral("full"));
    QCOMPARE(model.index(1, RestorePointTableModel::TypeCol).data().toString(),
             QStringLiteral("incremental"));
    QCOMPARE(model.points()[1].changedBytes, uint64_t(128 << 10));
    QCOMPARE(model.index(1, RestorePointTableModel::VerifiedCol).data().toString(),
             QStringLiteral("not yet"));
    auto* table = panel.findChild<QTableView*>();
    QVERIFY(table && table->model() == &model);

    // Verify: both intact, shown in the tab and in the table.
    QVERIFY(verify->isEnabled());
    QTest::mouseClick(verify, Qt::LeftButton);
    QVERIFY2(waitDone(3), qPrintable(panel.messageText()));
    QVERIFY2(panel.messageText().contains(QStringLiteral("2 point(s) verified: all intact")),
             qPrintable(panel.messageText()));
    QVERIFY(model.index(0, RestorePointTableModel::VerifiedCol)
                .data()
                .toString()
                .startsWith(QStringLiteral("yes")));

    // Restore each point to a new raw image: the disk as it was at that point.
    const QString latest = tmp.filePath(QStringLiteral("latest.raw"));
    QVERIFY(panel.restoreToImage(std::nullopt, latest, QStringLiteral("raw")));
    QVERIFY2(waitDone(4), qPrintable(panel.messageText()));
    QVERIFY(fileContents(latest, "raw") == atSecond);
    const QString first = tmp.filePath(QStringLiteral("first.qcow2"));
    QVERIFY(panel.restoreToImage(1, first, QStringLiteral("qcow2")));
    QVERIFY2(waitDone(5), qPrintable(panel.messageText()));
    QVERIFY(fileContents(first, "qcow2") == atFirst);
    // Not over an image the process has open.
    s.nodes.open(first.toStdString(), "qcow2", true);
    QVERIFY(!panel.restoreToImage(1, first, QStringLiteral("qcow2")));
    QVERIFY(panel.messageText().contains(QStringLiteral("is open")));

    // Onto the disk of the stopped VM, after the question: point 1 (chosen in the table).
    writeDisk(disk, 0, 1 << 20, 0x77);
    table->selectRow(0);
    QCOMPARE(panel.chosenPoint(), std::optional<uint64_t>(1));
    bool answered = false;
    answerNextQuestion(QStringLiteral("Cancel"), &answered);
    QTest::mouseClick(restoreDisk, Qt::LeftButton);
    QVERIFY(answered);
    QVERIFY(panel.messageText().contains(QStringLiteral("cancelled")));
    QVERIFY(fileContents(disk, "qcow2") != atFirst);
    answered = false;
    answerNextQuestion(QStringLiteral("Replace the disk"), &answered);
    QTest::mouseClick(restoreDisk, Qt::LeftButton);
    QVERIFY(answered);
    QVERIFY2(waitDone(6), qPrintable(panel.messageText()));
    QVERIFY(fileContents(disk, "qcow2") == atFirst);
    // Refused while the VM runs, saying why.
    panel.setVmRunning(true);
    QVERIFY(!panel.restoreOntoDisk(1, true));
    QVERIFY2(panel.messageText().contains(QStringLiteral("is running")),
             qPrintable(panel.messageText()));
    panel.setVmRunning(false);

    // The restored disk has no checkpoint bitmap: the next point is full, and the tab says why.
    table->clearSelection();
    QTest::mouseClick(backUp, Qt::LeftButton);
    QVERIFY2(waitDone(7), qPrintable(panel.messageText()));
    QVERIFY2(panel.messageText().contains(QStringLiteral("Note: taking a full point")),
             qPrintable(panel.messageText()));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.points()[2].type, backup::PointType::Full);

    // Keep 2: the next backup prunes to two points, still restoring exactly.
    QVERIFY(panel.setKeep(2));
    QCOMPARE(library.at(library.indexOf(QStringLiteral("Box"))).backupKeep, 2);
    // Compress: the box is kept in the definition, and the next point is stored zstd-compressed
    // (restored below as a new VM).
    QCheckBox* compress = nullptr;
    for (QCheckBox* box : panel.findChildren<QCheckBox*>())
        if (box->text() == QStringLiteral("Compress (zstd)"))
            compress = box;
    QVERIFY(compress && compress->text() == QStringLiteral("Compress (zstd)"));
    QVERIFY(!compress->isChecked());
    compress->click();
    QCOMPARE(library.at(library.indexOf(QStringLiteral("Box"))).backupCompression,
             QStringLiteral("zstd"));
    writeDisk(disk, 7 << 20, 64 << 10, 0x44);
    const std::vector<uint8_t> atFourth = fileContents(disk, "qcow2");
    QTest::mouseClick(backUp, Qt::LeftButton);
    QVERIFY2(waitDone(8), qPrintable(panel.messageText()));
    QVERIFY2(panel.messageText().contains(QStringLiteral("(zstd-compressed)")),
             qPrintable(panel.messageText()));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.points()[1].type, backup::PointType::Incremental);
    QCOMPARE(model.points()[1].compression, std::string("zstd"));
    QCOMPARE(model.points()[0].compression, std::string()); // merged as it was stored

    // As a new VM: a library entry with the restored disk.
    QVERIFY(panel.restoreAsNewVm(std::nullopt));
    QVERIFY2(waitDone(9), qPrintable(panel.messageText()));
    const QString restoredName = QStringLiteral("Box restored %1").arg(model.points()[1].number);
    const int row = library.indexOf(restoredName);
    QVERIFY2(row >= 0, qPrintable(panel.messageText()));
    const VmDefinition restored = library.at(row);
    QCOMPARE(restored.disks.size(), 1);
    QCOMPARE(restored.disks[0].format, QStringLiteral("qcow2"));
    QVERIFY2(fileContents(restored.disks[0].file, "qcow2") == atFourth,
             (difference(fileContents(restored.disks[0].file, "qcow2"), atFourth) + "; " +
              panel.messageText().toStdString())
                 .c_str());

    // A damaged point: Verify fails, names the point and its problem, and the table says so.
    const QString latestFile =
        diskDir + QLatin1Char('/') + QString::fromStdString(model.points()[1].file);
    {
        QFile f(latestFile);
        QVERIFY(f.open(QIODevice::ReadWrite));
        QVERIFY(f.seek(f.size() - 100));
        QVERIFY(f.write(QByteArray(16, '\x5c')) == 16);
    }
    QTest::mouseClick(verify, Qt::LeftButton);
    QVERIFY(!waitDone(10));
    const QString failed = panel.messageText();
    QVERIFY2(failed.contains(QStringLiteral("1 of 2 point(s) failed verification")) &&
                 failed.contains(QStringLiteral("point %1: ").arg(model.points()[1].number)),
             qPrintable(failed));
    QCOMPARE(model.index(1, RestorePointTableModel::VerifiedCol).data().toString(),
             QStringLiteral("FAILED"));

    // An error of the library is shown in the tab: a backup folder that cannot be created.
    const QString blocker = tmp.filePath(QStringLiteral("not-a-folder"));
    {
        QFile f(blocker);
        QVERIFY(f.open(QIODevice::WriteOnly));
    }
    QVERIFY(panel.setBackupRoot(blocker + QStringLiteral("/backups")));
    QTest::mouseClick(backUp, Qt::LeftButton);
    QVERIFY(!waitDone(11));
    QVERIFY2(panel.messageText().startsWith(QStringLiteral("Back up Box failed: ")) &&
                 panel.messageText().contains(QStringLiteral("cannot create the backup folder")),
             qPrintable(panel.messageText()));
}

void BackupsPanelTest::stoppedVmInTheWindow() {
    // The selected, stopped VM in the window: Back up now twice with a change between, then
    // restore the first point onto its disk.
    GuestFiles guest = GuestFiles::locate(QStringLiteral(E2KVM_TEST_GUEST_DIR));
    if (guest.rom.isEmpty() || guest.demoDisk.isEmpty())
        QSKIP("the guest ROM and demo disk are not built (target e2kvm_guest)");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    Services s;
    const QString dataDir = tmp.filePath(QStringLiteral("data"));
    VmLibrary library{tmp.filePath(QStringLiteral("vms"))};
    library.add(makeDemoVm(guest.demoDisk, dataDir));
    MainWindow window(s.ctx, library, guest, dataDir);
    window.setProperty("noConfirm", true);
    auto* panel = qobject_cast<BackupsPanel*>(window.tabPage(QStringLiteral("Backups")));
    QVERIFY(panel);
    QSignalSpy finished(panel, &BackupsPanel::operationFinished);
    auto waitDone = [&](int count) -> bool {
        if (!QTest::qWaitFor([&] { return finished.count() >= count; }, 60000))
            return false;
        return finished.count() == count && finished.at(count - 1).at(0).toBool();
    };
    const std::string file = library.at(0).disks[0].file.toStdString();
    const QString qfile = QString::fromStdString(file);
    // Selecting a VM opens none of its disks (looking is read-only): a stopped VM's disk is
    // backed up from its file, which the backup does not leave open.
    QVERIFY(!s.nodes.findByFile(file));
    const std::vector<uint8_t> atFirst = fileContents(qfile, "qcow2");
    QVERIFY(panel->backUpNow());
    QVERIFY2(waitDone(1), qPrintable(panel->messageText()));
    QVERIFY(!s.nodes.findByFile(file));
    writeDisk(qfile, 3 << 20, 64 << 10, 0x6b);
    QVERIFY(panel->backUpNow());
    QVERIFY2(waitDone(2), qPrintable(panel->messageText()));
    QCOMPARE(panel->pointsModel().points()[1].type, backup::PointType::Incremental);
    QCOMPARE(panel->pointsModel().points()[1].changedBytes, uint64_t(64 << 10));
    QVERIFY(s.pointInTime.list().empty());
    QVERIFY(fileContents(qfile, "qcow2") != atFirst);

    bool answered = false;
    answerNextQuestion(QStringLiteral("Replace the disk"), &answered);
    QVERIFY(panel->restoreOntoDisk(1));
    QVERIFY(answered);
    QVERIFY2(waitDone(3), qPrintable(panel->messageText()));
    QVERIFY(!s.nodes.findByFile(file));
    QVERIFY(fileContents(qfile, "qcow2") == atFirst);
}

void BackupsPanelTest::eachDiskHasItsOwnFolder() {
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    Services s;
    VmLibrary library(tmp.filePath(QStringLiteral("vms")));
    for (const QString& name : {QStringLiteral("Two"), QStringLiteral("One")}) {
        VmDefinition def;
        def.name = name;
        def.uuid = QUuid::createUuid();
        for (int i = 0; i < 2; ++i) {
            const QString file = tmp.filePath(QStringLiteral("%1-%2.qcow2").arg(name).arg(i));
            block::CreateOptions c;
            c.format = "qcow2";
            c.size = 1 << 20;
            c.sizeGiven = true;
            block::createImage(file.toStdString(), c);
            def.disks.append(VmDisk{file, QStringLiteral("qcow2"), false});
        }
        library.add(def);
    }
    BackupsPanel panel(s.ctx, library, tmp.filePath(QStringLiteral("data")));
    QSignalSpy finished(&panel, &BackupsPanel::operationFinished);
    panel.setVm(QStringLiteral("Two"));
    panel.setDiskIndex(1);
    QVERIFY(panel.backUpNow());
    QVERIFY(QTest::qWaitFor([&] { return finished.count() == 1; }, 60000));
    QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(panel.messageText()));
    QVERIFY(QFileInfo::exists(panel.diskBackupDir(1) + QStringLiteral("/e2kvm-backup.json")));
    QVERIFY(!QFileInfo::exists(panel.diskBackupDir(0)));
    QCOMPARE(panel.pointsModel().rowCount(), 1);
    panel.setDiskIndex(0);
    QCOMPARE(panel.pointsModel().rowCount(), 0); // disk 0 has no points yet
    panel.setDiskIndex(1);
    panel.setVm(QStringLiteral("One")); // another VM starts at its disk 0
    QCOMPARE(panel.diskIndex(), 0);
    QCOMPARE(panel.pointsModel().rowCount(), 0);
}

void BackupsPanelTest::runningVmBackupIsAPointInTime() {
    GuestFiles guest = GuestFiles::locate(QStringLiteral(E2KVM_TEST_GUEST_DIR));
    if (guest.rom.isEmpty() || guest.demoDisk.isEmpty())
        QSKIP("the guest ROM and demo disk are not built (target e2kvm_guest)");
    QTemporaryDir tmp;
    QVERIFY(tmp.isValid());
    Services s;
    const QString dataDir = tmp.filePath(QStringLiteral("data"));
    VmLibrary library{tmp.filePath(QStringLiteral("vms"))};
    library.add(makeDemoVm(guest.demoDisk, dataDir));
    MainWindow window(s.ctx, library, guest, dataDir);
    window.setProperty("noConfirm", true);
    window.resize(1280, 860);
    auto* panel = qobject_cast<BackupsPanel*>(window.tabPage(QStringLiteral("Backups")));
    QVERIFY(panel);
    QCOMPARE(panel->vmName(), QString::fromLatin1(kDemoVmName));
    QSignalSpy finished(panel, &BackupsPanel::operationFinished);
    QPushButton* backUp = button(panel, QStringLiteral("Back up now"));
    QVERIFY(backUp);

    QSignalSpy firstFrame(window.console(), &ConsoleWidget::firstFrame);
    QVERIFY(window.runSelected());
    VmSession* session = window.selectedSession();
    QVERIFY(session && session->isActive());
    QTRY_VERIFY_WITH_TIMEOUT(firstFrame.count() > 0, 30000);
    auto disk = session->disks().at(0);
    auto readDisk = [&] {
        std::vector<uint8_t> out(disk->image->size());
        disk->image->read(0, out);
        return out;
    };
    auto typeKeys = [&](std::initializer_list<uint16_t> keys) {
        uint64_t before = session->bytesWritten();
        for (uint16_t key : keys)
            window.console()->sendKeys({key});
        QTRY_VERIFY_WITH_TIMEOUT(session->bytesWritten() >= before + keys.size() * 512, 20000);
    };
    // Whether operation number `count` ended, and succeeded.
    auto waitDone = [&](int count) -> bool {
        if (!QTest::qWaitFor([&] { return finished.count() >= count; }, 60000))
            return false;
        return finished.count() == count && finished.at(count - 1).at(0).toBool();
    };

    // First point while the guest runs.
    typeKeys({0x12, 0x03});
    window.showTab(QStringLiteral("Backups"));
    QTest::mouseClick(backUp, Qt::LeftButton);
    QVERIFY2(waitDone(1), qPrintable(panel->messageText()));
    QVERIFY(session->isActive());

    // The guest writes, and so does the test; then the second point.
    typeKeys({0x25, 0x12});
    std::vector<uint8_t> scribble(64 << 10, 0xa5);
    disk->image->write(1 << 20, scribble);
    const std::vector<uint8_t> atClick = readDisk();
    QTest::mouseClick(backUp, Qt::LeftButton);
    // The job takes the point in time on its worker thread, a moment after the click: once it
    // is taken (or the backup is over already), the guest and the test write on.
    QVERIFY(QTest::qWaitFor([&] { return !s.pointInTime.list().empty() || finished.count() >= 2; },
                            30000));
    typeKeys({0x03, 0x25});
    std::vector<uint8_t> later(64 << 10, 0x3c);
    disk->image->write(2 << 20, later);
    QVERIFY2(waitDone(2), qPrintable(panel->messageText()));
    QVERIFY(session->isActive());
    const RestorePointTableModel& model = panel->pointsModel();
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.points()[0].type, backup::PointType::Full);
    QCOMPARE(model.points()[1].type, backup::PointType::Incremental);
    QVERIFY(readDisk() != atClick);
    // Nothing of the point in time is left behind.
    QVERIFY(s.pointInTime.list().empty());

    // The latest point restores to the disk as it was at the click.
    const QString restored = tmp.filePath(QStringLiteral("restored.raw"));
    QVERIFY(panel->restoreToImage(std::nullopt, restored, QStringLiteral("raw")));
    QVERIFY2(waitDone(3), qPrintable(panel->messageText()));
    QVERIFY2(fileContents(restored, "raw") == atClick,
             difference(fileContents(restored, "raw"), atClick).c_str());

    // Not onto the disk of the running VM.
    QPushButton* restoreDisk = button(panel, QStringLiteral("Restore onto disk…"));
    QVERIFY(restoreDisk);
    QTest::mouseClick(restoreDisk, Qt::LeftButton);
    QVERIFY2(panel->messageText().contains(QStringLiteral("is running")),
             qPrintable(panel->messageText()));

    // The tab as the user sees it.
    QTest::mouseClick(button(panel, QStringLiteral("Verify")), Qt::LeftButton);
    QVERIFY2(waitDone(4), qPrintable(panel->messageText()));
    QApplication::processEvents();
    QImage shot = panel->grab().toImage();
    QVERIFY(shot.width() > 400 && shot.height() > 300);
    QSet<QRgb> colours;
    for (int y = 0; y < shot.height(); y += 3)
        for (int x = 0; x < shot.width(); x += 3)
            colours.insert(shot.pixel(x, y));
    QVERIFY2(colours.size() > 4, "the Backups tab grabbed blank");
    QString keep = qEnvironmentVariable("E2KVM_SMOKE_KEEP");
    if (!keep.isEmpty()) {
        QDir().mkpath(keep);
        QVERIFY(shot.save(QDir(keep).filePath(QStringLiteral("backups.png")), "PNG"));
        QVERIFY(
            window.grab().save(QDir(keep).filePath(QStringLiteral("backups-window.png")), "PNG"));
    }
    session->forceOff();
}

QTEST_MAIN(BackupsPanelTest)
#include "tst_backups_panel.moc"
