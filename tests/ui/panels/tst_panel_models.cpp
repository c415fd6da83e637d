// The panels' table models under QAbstractItemModelTester: images (columns read from the open
// node, errors kept in the row, drag and drop of files) and bitmaps.
#include "TestImages.h"
#include "app/vmcore/BlockNodeTable.h"
#include "ui/panels/BitmapTableModel.h"
#include "ui/panels/ImageTableModel.h"

#include <QAbstractItemModelTester>
#include <QMimeData>
#include <QSignalSpy>
#include <QTest>
#include <QUrl>

using namespace e2kvm;
using namespace e2kvm::ui;

class PanelModelsTest : public QObject {
    Q_OBJECT
private slots:
    void imageRowsShowFormatSizesChainAndBitmaps();
    void unopenableImageKeepsRowWithError();
    void dropAddsFiles();
    void bitmapRows();

private:
    QString path(const QString& name) const { return dir_.filePath(name); }
    QTemporaryDir dir_;
};

void PanelModelsTest::imageRowsShowFormatSizesChainAndBitmaps() {
    QVERIFY(dir_.isValid());
    std::string base = path("base.raw").toStdString(), top = path("top.qcow2").toStdString();
    block::CreateOptions c;
    c.format = "raw";
    c.size = 4 << 20;
    c.sizeGiven = true;
    block::createImage(base, c);
    c.format = "qcow2";
    c.sizeGiven = false;
    c.size = 0;
    c.backingFile = base;
    c.backingFormat = "raw";
    c.clusterSize = 65536;
    block::createImage(top, c);
    test::makeQcow2WithBitmap(path("bm.qcow2").toStdString(), 8 << 20, "b1", {{0, 4096}});

    vm::BlockNodeTable nodes;
    ImageTableModel model(&nodes);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setVmImages({path("top.qcow2")});
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(model.row(0).fromVm);
    int added = model.addImage(path("bm.qcow2"));
    QCOMPARE(added, 1);
    QCOMPARE(model.addImage(path("bm.qcow2")), 1); // listed once
    auto cell = [&](int r, int col) { return model.data(model.index(r, col)).toString(); };
    QCOMPARE(cell(0, ImageTableModel::FormatColumn), QStringLiteral("qcow2"));
    QCOMPARE(cell(0, ImageTableModel::VirtualSizeColumn), QStringLiteral("4 MiB"));
    QCOMPARE(cell(0, ImageTableModel::ClusterColumn), QStringLiteral("64 KiB"));
    QCOMPARE(cell(0, ImageTableModel::BackingColumn), QStringLiteral("base.raw"));
    QCOMPARE(cell(0, ImageTableModel::BitmapsColumn), QStringLiteral("0"));
    QCOMPARE(cell(1, ImageTableModel::BitmapsColumn), QStringLiteral("1"));
    QCOMPARE(cell(1, ImageTableModel::VirtualSizeColumn), QStringLiteral("8 MiB"));
    QVERIFY(cell(1, ImageTableModel::FileColumn).startsWith("bm.qcow2"));
    // Looked at read-only, outside the node table: nothing is opened for writing.
    QVERIFY(model.row(0).lookedAt && model.row(1).lookedAt);
    QVERIFY(nodes.list().empty());
    // A change asked for opens the file for writing in the table, one node per file.
    auto node = model.openForChange(1);
    QVERIFY(node && !node->image->readOnly() && !model.row(1).lookedAt);
    QCOMPARE(nodes.list().size(), size_t(1));
    QCOMPARE(model.openForChange(1), node);
    // Once the table has a file open (a VM started), refresh shows that live node.
    auto live = nodes.open(path("top.qcow2").toStdString(), "", false);
    model.refresh();
    QCOMPARE(model.row(0).node, live);
    QVERIFY(!model.row(0).lookedAt);
    // The VM's list changes: hand-added rows stay, VM rows are replaced.
    model.setVmImages({});
    QCOMPARE(model.rowCount(), 1);
    QCOMPARE(model.row(0).file, path("bm.qcow2"));
    QVERIFY(!model.removeRow(5));
    QVERIFY(model.removeRow(0));
    QCOMPARE(model.rowCount(), 0);
}

void PanelModelsTest::unopenableImageKeepsRowWithError() {
    QFile junk(path("junk.qcow2"));
    QVERIFY(junk.open(QIODevice::WriteOnly));
    junk.write("QFI\xfb", 4); // qcow2 magic and nothing else
    junk.close();
    vm::BlockNodeTable nodes;
    ImageTableModel model(&nodes);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setVmImages({path("junk.qcow2"), path("missing.raw")});
    QCOMPARE(model.rowCount(), 2);
    for (int r = 0; r < 2; ++r) {
        QVERIFY(!model.row(r).node);
        QVERIFY(!model.row(r).error.isEmpty());
        QString shown = model.data(model.index(r, ImageTableModel::FormatColumn)).toString();
        QVERIFY2(shown.startsWith("error: "), qPrintable(shown));
        QCOMPARE(model.data(model.index(r, 0), Qt::ToolTipRole).toString(), model.row(r).error);
    }
    QVERIFY2(model.row(1).error.contains("missing.raw"), qPrintable(model.row(1).error));
}

void PanelModelsTest::dropAddsFiles() {
    test::makeQcow2WithBitmap(path("drop.qcow2").toStdString(), 1 << 20, "b", {});
    vm::BlockNodeTable nodes;
    ImageTableModel model(&nodes);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QMimeData mime;
    QVERIFY(!model.canDropMimeData(&mime, Qt::CopyAction, -1, -1, {}));
    mime.setUrls({QUrl::fromLocalFile(path("drop.qcow2")), QUrl("https://example.com/x")});
    QVERIFY(model.canDropMimeData(&mime, Qt::CopyAction, -1, -1, {}));
    QVERIFY(model.dropMimeData(&mime, Qt::CopyAction, -1, -1, {}));
    QCOMPARE(model.rowCount(), 1);
    QVERIFY(model.row(0).node);
}

void PanelModelsTest::bitmapRows() {
    BitmapTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    block::NamedBitmap a;
    a.name = "a";
    a.granularity = 65536;
    a.enabled = true;
    a.persistent = true;
    a.bitmap = std::make_shared<block::DirtyBitmap>(1 << 20, 65536);
    a.bitmap->set(0, 3 * 65536);
    block::NamedBitmap broken;
    broken.name = "broken";
    broken.granularity = 65536;
    broken.inconsistent = true;
    model.setBitmaps({a, broken});
    QCOMPARE(model.rowCount(), 2);
    auto cell = [&](int r, int col) { return model.data(model.index(r, col)).toString(); };
    QCOMPARE(cell(0, BitmapTableModel::NameColumn), QStringLiteral("a"));
    QCOMPARE(cell(0, BitmapTableModel::GranularityColumn), QStringLiteral("64 KiB"));
    QCOMPARE(cell(0, BitmapTableModel::EnabledColumn), QStringLiteral("yes"));
    QCOMPARE(cell(0, BitmapTableModel::PersistentColumn), QStringLiteral("yes"));
    QCOMPARE(cell(0, BitmapTableModel::DirtyColumn), QStringLiteral("192 KiB"));
    QCOMPARE(cell(0, BitmapTableModel::ConsistentColumn), QStringLiteral("yes"));
    QCOMPARE(cell(1, BitmapTableModel::DirtyColumn), QStringLiteral("—"));
    QVERIFY(cell(1, BitmapTableModel::ConsistentColumn).startsWith("no"));
    QVERIFY(!model.data(model.index(1, 0), Qt::ToolTipRole).toString().isEmpty());
    // Same names: updated in place (no reset); different names: reset.
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    a.enabled = false;
    model.setBitmaps({a, broken});
    QCOMPARE(reset.count(), 0);
    QCOMPARE(cell(0, BitmapTableModel::EnabledColumn), QStringLiteral("no"));
    model.setBitmaps({broken});
    QCOMPARE(reset.count(), 1);
    QCOMPARE(model.findName("broken"), 0);
    QCOMPARE(model.findName("a"), -1);
}

QTEST_MAIN(PanelModelsTest)
#include "tst_panel_models.moc"
