// The block layer's warnings reach the GUI's log, not stderr: an image that a program without
// bitmap support modified, opened while a BlockLogRoute lives, leaves a warning naming the
// image in the LogModel; without the route the same open prints it on stderr.
#include "block/BlockLog.h"
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/log/BlockLogRoute.h"
#include "ui/log/LogModel.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cstdio>
#include <fstream>

using namespace e2kvm;

class TestBlockLog : public QObject {
    Q_OBJECT

    // A qcow2 image with a persistent bitmap whose header then lost the "bitmaps" autoclear bit,
    // as a program lacking bitmap support leaves it.
    static std::string modifiedImage(const QTemporaryDir& dir) {
        std::string path = dir.filePath(QStringLiteral("disk.qcow2")).toStdString();
        block::CreateOptions c;
        c.format = "qcow2";
        c.size = 1 << 20;
        c.sizeGiven = true;
        block::createImage(path, c);
        {
            block::OpenOptions o;
            o.format = "qcow2";
            o.readOnly = false;
            auto image = block::openImage(path, o);
            block::BitmapAction add;
            add.name = "b";
            image->bitmaps()->apply(std::span(&add, 1));
        }
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(88 + 7); // autoclear_features, big endian: bit 0 is the last byte
        f.put(0);
        return path;
    }

    static void open(const std::string& path) {
        block::OpenOptions o;
        o.format = "qcow2";
        o.readOnly = true;
        block::openImage(path, o);
    }

private slots:
    void warningGoesToTheLog() {
        QTemporaryDir dir;
        std::string path = modifiedImage(dir);
        ui::LogModel log;
        {
            ui::BlockLogRoute route(log);
            open(path);
        }
        QCOMPARE(log.rowCount(), 1);
        QCOMPARE(log.entry(0).level, QStringLiteral("warning"));
        QVERIFY(log.entry(0).text.startsWith(QString::fromStdString(path) + ": "));
        QVERIFY(log.entry(0).text.contains(QStringLiteral("lacking bitmap support")));
    }

    void withoutTheRouteItIsNotInTheLog() {
        QTemporaryDir dir;
        std::string path = modifiedImage(dir);
        ui::LogModel log;
        { ui::BlockLogRoute route(log); }
        std::vector<block::LogMessage> seen;
        auto previous = block::setLogSink([&](const block::LogMessage& m) { seen.push_back(m); });
        open(path);
        block::setLogSink(previous);
        QCOMPARE(log.rowCount(), 0);
        QCOMPARE(int(seen.size()), 1);
        QCOMPARE(QString::fromStdString(seen[0].image), QString::fromStdString(path));
    }
};

QTEST_MAIN(TestBlockLog)
#include "tst_block_log.moc"
