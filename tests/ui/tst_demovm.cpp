// The Demo VM and image copies: a sparse raw disk becomes a qcow2 with the same contents and a
// persistent "backup" bitmap; an existing demo image is reused; failures leave no file behind.
#include "block/BlockDriver.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/library/DemoVm.h"
#include "ui/library/ImageCopy.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <vector>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {

// 8 MiB sparse raw with data at 0, 3 MiB + 100 and the last sector.
QString makeRaw(const QTemporaryDir& dir) {
    QString path = dir.filePath(QStringLiteral("demo-disk.raw"));
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || !f.resize(8 << 20))
        return {};
    for (qint64 off : {qint64(0), qint64((3 << 20) + 100), qint64((8 << 20) - 512)}) {
        f.seek(off);
        QByteArray data(512, char(0x40 + off % 7));
        data.prepend("E2KBOOT");
        f.write(data.left(512));
    }
    return path;
}

std::vector<uint8_t> readAll(const std::string& path) {
    block::OpenOptions o;
    auto image = block::openImage(path, o);
    std::vector<uint8_t> buf(image->size());
    image->read(0, buf);
    return buf;
}

} // namespace

class TestDemoVm : public QObject {
    Q_OBJECT
private slots:
    void demoDiskIsQcow2CopyWithBitmap() {
        QTemporaryDir dir;
        QString raw = makeRaw(dir);
        QVERIFY(!raw.isEmpty());
        VmDefinition def = makeDemoVm(raw, dir.filePath(QStringLiteral("data")));
        QCOMPARE(def.name, QStringLiteral("Demo"));
        QCOMPARE(def.boot, BootKind::Demo);
        QCOMPARE(def.disks.size(), 1);
        std::string qcow2 = def.disks[0].file.toStdString();
        QCOMPARE(block::probeFormat(qcow2), std::string("qcow2"));
        QVERIFY(readAll(qcow2) == readAll(raw.toStdString()));
        block::OpenOptions o;
        auto image = block::openImage(qcow2, o);
        auto bitmap = image->bitmaps()->find(kDemoBitmapName);
        QVERIFY(bitmap.has_value());
        QVERIFY(bitmap->persistent);
        QVERIFY(bitmap->enabled);
        // Sparse: far less allocated than the 8 MiB virtual size.
        QVERIFY(image->allocatedBytes() < (2u << 20));
        image.reset();
        // A second first-start reuses the image (keeping whatever the guest wrote).
        VmDefinition again = makeDemoVm(raw, dir.filePath(QStringLiteral("data")));
        QCOMPARE(again.disks[0].file, def.disks[0].file);
    }

    void missingDemoDiskIsAClearError() {
        QTemporaryDir dir;
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, makeDemoVm(QString(), dir.path()));
        QVERIFY_THROWS_EXCEPTION(std::exception,
                                 makeDemoVm(dir.filePath(QStringLiteral("nope.raw")), dir.path()));
        QVERIFY(!QFile::exists(dir.filePath(QStringLiteral("demo.qcow2"))));
    }

    void copyRefusesToOverwriteAndCleansUpOnCancel() {
        QTemporaryDir dir;
        QString raw = makeRaw(dir);
        std::string target = dir.filePath(QStringLiteral("copy.raw")).toStdString();
        // 8 MiB is two copy chunks: cancel after the first one.
        int calls = 0;
        QVERIFY_THROWS_EXCEPTION(std::runtime_error,
                                 copyImage(raw.toStdString(), target, "raw",
                                           [&](uint64_t, uint64_t) { return ++calls < 1; }));
        QCOMPARE(calls, 1);
        QVERIFY(!QFile::exists(QString::fromStdString(target)));
        copyImage(raw.toStdString(), target, "raw");
        QVERIFY(readAll(target) == readAll(raw.toStdString()));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, copyImage(raw.toStdString(), target, "raw"));
    }
};

QTEST_MAIN(TestDemoVm)
#include "tst_demovm.moc"
