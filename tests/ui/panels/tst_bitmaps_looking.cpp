// Looking is read-only: choosing an image in the Bitmaps tab lists its bitmaps and draws the
// map of one without opening the image writable, so neither a qcow2 that was not closed cleanly
// (dirty bit set), nor one whose bitmap is marked in use, nor a clean one (a writable open marks
// its bitmaps in use) changes by a byte. A change the user asks for (add a bitmap, disable one)
// is what opens it for writing. An image open in the node table (a running VM's disk) is shown
// through that live node.
#include "TestImages.h"

#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/HostFile.h"
#include "ui/AppContext.h"
#include "ui/jobs/JobRunner.h"
#include "ui/log/LogModel.h"
#include "ui/panels/BitmapMapWidget.h"
#include "ui/panels/BitmapTableModel.h"
#include "ui/panels/BitmapsPanel.h"

#include <QComboBox>
#include <QFile>
#include <QPushButton>
#include <QTest>

using namespace e2kvm;
using namespace e2kvm::ui;
using namespace e2kvm::test;

namespace {

// The qcow2 header's incompatible features (big-endian at offset 72); bit 0 is the dirty bit.
uint8_t incompatibleLowByte(const QString& path) {
    return uint8_t(fileBytes(path).at(79));
}

// A copy taken while the image is open for writing: its bitmap is marked in use on disk (the
// state after a crash).
void makeCrashedCopy(const QString& from, const QString& to) {
    block::OpenOptions o;
    o.format = "qcow2";
    o.readOnly = false;
    auto live = block::openImage(from.toStdString(), o);
    std::vector<uint8_t> data(4096, 3);
    live->write(65536, data);
    live->flush();
    QFile::copy(from, to);
}

struct Context {
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports{nodes};
    JobRunner jobs;
    LogModel log;
    AppContext app{&nodes, &exports, &jobs, &log};
    // What was logged at `level` ("warning", "error").
    QStringList logged(const QString& level) const {
        QStringList out;
        for (int r = 0; r < log.rowCount(); ++r)
            if (log.entry(r).level == level)
                out << log.entry(r).text;
        return out;
    }
};

} // namespace

class BitmapsLookingTest : public QObject {
    Q_OBJECT
private slots:
    void choosingImagesLeavesThemUnchanged();
    void aChangeTheUserAsksForOpensTheImageForWriting();
    void anImageOpenInTheTableIsShownLive();

private:
    QString path(const QString& name) const { return dir_.filePath(name); }
    QTemporaryDir dir_;
};

void BitmapsLookingTest::choosingImagesLeavesThemUnchanged() {
    const QString clean = path("clean.qcow2");
    const QString dirty = path("dirty.qcow2");
    const QString crashed = path("crashed.qcow2");
    test::makeQcow2WithBitmap(clean.toStdString(), 4 << 20, "base", {{0, 4096}});
    test::makeQcow2WithBitmap(dirty.toStdString(), 4 << 20, "ckpt", {{0, 4096}, {1 << 20, 512}});
    setDirtyBit(dirty);
    test::makeQcow2WithBitmap(path("live.qcow2").toStdString(), 4 << 20, "b", {{0, 4096}});
    makeCrashedCopy(path("live.qcow2"), crashed);
    QVERIFY(writableOpenChanges(clean, path("scratch.qcow2")));
    QVERIFY(writableOpenChanges(dirty, path("scratch.qcow2")));
    const QByteArray cleanBefore = fileBytes(clean);
    const QByteArray dirtyBefore = fileBytes(dirty);
    const QByteArray crashedBefore = fileBytes(crashed);
    QCOMPARE(incompatibleLowByte(dirty) & 1, 1);

    Context ctx;
    BitmapsPanel panel(ctx.app);
    panel.setImages({clean, dirty, crashed}); // a VM's disks: the first is shown
    QCOMPARE(panel.currentImage(), clean);
    QCOMPARE(panel.model()->rowCount(), 1);
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("base"));
    QCOMPARE(panel.mapWidget()->cells().dirtyBytes(), uint64_t(65536));

    // The user picks the dirty image in the list: its bitmap and its map are shown...
    auto* combo = panel.findChild<QComboBox*>();
    QVERIFY(combo);
    combo->setCurrentIndex(combo->findData(dirty));
    QCOMPARE(panel.currentImage(), dirty);
    QCOMPARE(panel.model()->rowCount(), 1);
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("ckpt"));
    QCOMPARE(panel.mapWidget()->cells().dirtyBytes(), uint64_t(2 * 65536));
    panel.mapWidget()->grab(); // drawn
    // ...and the refresh timer's pass keeps them.
    panel.refresh();
    QCOMPARE(panel.model()->rowCount(), 1);
    QCOMPARE(panel.mapWidget()->cells().dirtyBytes(), uint64_t(2 * 65536));
    // The Add and New checkpoint buttons are offered on what is looked at.
    for (QPushButton* b : panel.findChildren<QPushButton*>())
        if (b->text().startsWith(QStringLiteral("Add")) ||
            b->text().startsWith(QStringLiteral("New checkpoint")))
            QVERIFY2(b->isEnabled(), qPrintable(b->text()));

    // The crashed copy: its bitmap is shown as inconsistent, with the guidance.
    combo->setCurrentIndex(combo->findData(crashed));
    QCOMPARE(panel.model()->rowCount(), 1);
    QVERIFY(panel.model()->bitmaps()[0].inconsistent);
    QCOMPARE(panel.guidanceText(), QString::fromStdString(block::BitmapCatalog::inconsistentMessage(
                                       crashed.toStdString(), "b")));
    panel.refresh();

    // Through setCurrentImage (another panel's "show bitmaps") it looks the same way.
    panel.setCurrentImage(dirty);
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("ckpt"));

    // Every file is byte for byte what it was, and none is held open by the node table.
    QCOMPARE(fileBytes(clean), cleanBefore);
    QCOMPARE(fileBytes(dirty), dirtyBefore);
    QCOMPARE(fileBytes(crashed), crashedBefore);
    QVERIFY(ctx.nodes.list().empty());
    // Looking is neither an error nor a warning.
    QCOMPARE(ctx.logged(QStringLiteral("error")), QStringList());
    QCOMPARE(ctx.logged(QStringLiteral("warning")), QStringList());
}

void BitmapsLookingTest::aChangeTheUserAsksForOpensTheImageForWriting() {
    const QString clean = path("clean2.qcow2");
    const QString dirty = path("dirty2.qcow2");
    test::makeQcow2WithBitmap(clean.toStdString(), 4 << 20, "base", {{0, 4096}});
    test::makeQcow2WithBitmap(dirty.toStdString(), 4 << 20, "ckpt", {{0, 4096}});
    setDirtyBit(dirty);
    const QByteArray cleanBefore = fileBytes(clean);
    const QByteArray dirtyBefore = fileBytes(dirty);

    Context ctx;
    BitmapsPanel panel(ctx.app);
    panel.setImages({clean, dirty});
    panel.setCurrentImage(dirty);
    QCOMPARE(fileBytes(dirty), dirtyBefore);

    // Add a bitmap: the image is opened for writing in the node table (named as the VM names
    // its disk), which repairs it and clears the dirty bit; the new bitmap is stored.
    QVERIFY(panel.addBitmap(QStringLiteral("next")));
    auto node = ctx.nodes.findByFile(dirty.toStdString());
    QVERIFY(node);
    QCOMPARE(node->name, std::string("disk1"));
    QVERIFY(!node->image->readOnly());
    QCOMPARE(panel.model()->rowCount(), 2);
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("next"));
    QVERIFY(fileBytes(dirty) != dirtyBefore);
    QCOMPARE(incompatibleLowByte(dirty) & 1, 0);
    node->image->bitmaps()->saveForClose();
    {
        block::OpenOptions ro; // the node keeps it open for writing: look as qemu-img -U
        ro.readOnly = true;
        ro.forceShare = true;
        auto back = block::openImage(dirty.toStdString(), ro);
        QVERIFY(back->bitmaps()->find("next"));
        QVERIFY(back->bitmaps()->find("ckpt"));
    }

    // Disable on the other image, only looked at so far: opened for writing, and changed.
    panel.setCurrentImage(clean);
    QCOMPARE(fileBytes(clean), cleanBefore);
    QVERIFY(panel.changeBitmap(block::BitmapActionKind::Disable, QStringLiteral("base")));
    auto cleanNode = ctx.nodes.findByFile(clean.toStdString());
    QVERIFY(cleanNode);
    QCOMPARE(cleanNode->name, std::string("disk0"));
    QVERIFY(!cleanNode->image->bitmaps()->find("base")->enabled);
    cleanNode->image->bitmaps()->saveForClose();
    QVERIFY(fileBytes(clean) != cleanBefore);
    {
        block::OpenOptions ro; // the node keeps it open for writing: look as qemu-img -U
        ro.readOnly = true;
        ro.forceShare = true;
        auto back = block::openImage(clean.toStdString(), ro);
        QVERIFY(!back->bitmaps()->find("base")->enabled);
    }
}

void BitmapsLookingTest::anImageOpenInTheTableIsShownLive() {
    const QString disk = path("running.qcow2");
    test::makeQcow2WithBitmap(disk.toStdString(), 4 << 20, "rec", {{0, 4096}});
    Context ctx;
    // As a running VM holds its disk: open for writing in the node table.
    auto node = ctx.nodes.open(disk.toStdString(), "qcow2", false, "disk0");
    BitmapsPanel panel(ctx.app);
    panel.setImages({disk});
    panel.setVmRunning(true);
    QCOMPARE(panel.selectedBitmap(), QStringLiteral("rec"));
    QCOMPARE(panel.mapWidget()->cells().dirtyBytes(), uint64_t(65536));
    // The guest writes: the next refresh shows it (the same bitmap, not a copy read earlier).
    std::vector<uint8_t> data(4096, 7);
    node->image->write(2 << 20, data);
    panel.refresh();
    panel.selectBitmap(QStringLiteral("rec"));
    QCOMPARE(panel.mapWidget()->cells().dirtyBytes(), uint64_t(2 * 65536));
    // A change goes to that node.
    QVERIFY(panel.newCheckpoint(QStringLiteral("ckpt2")));
    QVERIFY(node->image->bitmaps()->find("ckpt2"));
    QVERIFY(!node->image->bitmaps()->find("rec")->enabled);
    QCOMPARE(ctx.nodes.list().size(), size_t(1));
}

QTEST_MAIN(BitmapsLookingTest)
#include "tst_bitmaps_looking.moc"
