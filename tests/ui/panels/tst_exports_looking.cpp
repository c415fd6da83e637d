// Looking is read-only: choosing an image in the Exports tab lists its bitmaps without opening
// it writable, so a qcow2 that was not closed cleanly (dirty bit set) is not repaired, and its
// bytes stay as they were. Exporting it is what opens it for real.
#include "TestImages.h"

#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/HostFile.h"
#include "ui/AppContext.h"
#include "ui/jobs/JobRunner.h"
#include "ui/log/LogModel.h"
#include "ui/panels/ExportsPanel.h"

#include <QComboBox>
#include <QFile>
#include <QTest>

using namespace e2kvm;
using namespace e2kvm::ui;
using namespace e2kvm::test;

namespace {} // namespace

class ExportsLookingTest : public QObject {
    Q_OBJECT
private slots:
    void choosingADirtyQcow2LeavesItUnchanged();
};

void ExportsLookingTest::choosingADirtyQcow2LeavesItUnchanged() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString clean = dir.filePath("clean.qcow2");
    const QString dirty = dir.filePath("dirty.qcow2");
    test::makeQcow2WithBitmap(clean.toStdString(), 1 << 20, "a", {});
    test::makeQcow2WithBitmap(dirty.toStdString(), 4 << 20, "ckpt", {{0, 4096}, {1 << 20, 512}});
    setDirtyBit(dirty);
    const QByteArray before = fileBytes(dirty);
    QVERIFY(!before.isEmpty());

    vm::BlockNodeTable nodes;
    vm::NbdExportService exports(nodes);
    JobRunner jobs;
    LogModel log;
    AppContext ctx{&nodes, &exports, &jobs, &log};
    ExportsPanel panel(ctx);
    panel.setImages({clean, dirty});
    auto* combo = panel.findChild<QComboBox*>();
    QVERIFY(combo);
    QCOMPARE(combo->count(), 2);

    // The user picks the dirty image in the list: its bitmap is offered...
    combo->setCurrentIndex(combo->findData(dirty));
    QCOMPARE(panel.offeredBitmaps(), QStringList{"ckpt"});
    // ...the file is byte for byte what it was, and it is not held open by the node table.
    QCOMPARE(fileBytes(dirty), before);
    QVERIFY(!nodes.findByFile(dirty.toStdString()));

    // The refresh timer's pass keeps the list and still opens nothing.
    panel.refresh();
    QCOMPARE(panel.offeredBitmaps(), QStringList{"ckpt"});
    // Choosing through setCurrentImage (the other panels' "export this") looks the same way.
    combo->setCurrentIndex(combo->findData(clean));
    panel.setCurrentImage(dirty);
    QCOMPARE(panel.offeredBitmaps(), QStringList{"ckpt"});
    QCOMPARE(fileBytes(dirty), before);
    QVERIFY(!nodes.findByFile(dirty.toStdString()));
    QVERIFY(!nodes.findByFile(clean.toStdString()));
}

QTEST_MAIN(ExportsLookingTest)
#include "tst_exports_looking.moc"
