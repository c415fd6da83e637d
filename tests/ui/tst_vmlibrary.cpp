// VmLibrary: the list model (checked by QAbstractItemModelTester), JSON persistence and reload,
// atomic writes, and hostile definition files.
#include "ui/library/VmLibrary.h"

#include <QAbstractItemModelTester>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>

using namespace e2kvm::ui;

namespace {

VmDefinition sample(const QString& name) {
    VmDefinition d;
    d.name = name;
    d.uuid = QUuid::createUuid();
    d.memoryMiB = 512;
    d.disks = {VmDisk{QStringLiteral("/images/%1.qcow2").arg(name), QStringLiteral("qcow2"), false},
               VmDisk{QStringLiteral("/images/shared.raw"), QStringLiteral("raw"), true}};
    d.boot = BootKind::Kernel;
    d.bootPath = QStringLiteral("/images/kernel.elf");
    d.display = QSize(800, 600);
    return d;
}

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
}

ino_t inodeOf(const QString& path) {
    struct stat st {};
    return ::stat(QFile::encodeName(path).constData(), &st) == 0 ? st.st_ino : 0;
}

} // namespace

class TestVmLibrary : public QObject {
    Q_OBJECT
private slots:
    void modelPassesTheTester() {
        QTemporaryDir dir;
        VmLibrary lib(dir.path() + QStringLiteral("/vms"));
        QAbstractItemModelTester tester(&lib,
                                        QAbstractItemModelTester::FailureReportingMode::QtTest);
        lib.reload();
        QCOMPARE(lib.rowCount(), 0);
        lib.add(sample(QStringLiteral("beta")));
        lib.add(sample(QStringLiteral("alpha")));
        lib.add(sample(QStringLiteral("gamma")));
        QCOMPARE(lib.rowCount(), 3);
        QCOMPARE(lib.at(0).name, QStringLiteral("alpha")); // sorted
        QCOMPARE(lib.data(lib.index(1), VmLibrary::NameRole).toString(), QStringLiteral("beta"));
        QCOMPARE(lib.data(lib.index(1), VmLibrary::StateRole).toString(),
                 QStringLiteral("stopped"));
        QSignalSpy changed(&lib, &QAbstractItemModel::dataChanged);
        lib.setRunState(QStringLiteral("beta"), QStringLiteral("running"));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(lib.runState(1), QStringLiteral("running"));
        QImage thumb(16, 12, QImage::Format_RGB32);
        thumb.fill(Qt::red);
        lib.setThumbnail(QStringLiteral("beta"), thumb);
        QCOMPARE(lib.data(lib.index(1), Qt::DecorationRole).value<QImage>().pixel(3, 3),
                 QColor(Qt::red).rgb());
        VmDefinition renamed = lib.at(1);
        renamed.name = QStringLiteral("delta");
        lib.update(1, renamed);
        QVERIFY(!QFile::exists(lib.filePath(QStringLiteral("beta"))));
        QVERIFY(QFile::exists(lib.filePath(QStringLiteral("delta"))));
        lib.remove(0);
        QCOMPARE(lib.rowCount(), 2);
        QVERIFY(!QFile::exists(lib.filePath(QStringLiteral("alpha"))));
        lib.reload();
        QCOMPARE(lib.rowCount(), 2);
    }

    void definitionsSurviveReload() {
        QTemporaryDir dir;
        VmDefinition a = sample(QStringLiteral("Build box"));
        {
            VmLibrary lib(dir.path());
            lib.add(a);
        }
        VmLibrary again(dir.path());
        again.reload();
        QCOMPARE(again.count(), 1);
        QVERIFY(again.loadErrors().isEmpty());
        QVERIFY(again.at(0) == a);
        // Human-readable: indented JSON with the fields by name.
        QFile f(again.filePath(a.name));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QByteArray text = f.readAll();
        QVERIFY(text.contains("\"memory-mib\": 512"));
        QVERIFY(text.contains("\n    \"name\": \"Build box\""));
    }

    void duplicatesAndBadNamesAreRefused() {
        QTemporaryDir dir;
        VmLibrary lib(dir.path());
        lib.add(sample(QStringLiteral("one")));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, lib.add(sample(QStringLiteral("ONE"))));
        for (const char* bad : {"", ".hidden", "a/b", "../x", "tab\there", " lead"})
            QVERIFY_THROWS_EXCEPTION(std::runtime_error, lib.add(sample(QString::fromLatin1(bad))));
        VmDefinition tooBig = sample(QStringLiteral("big"));
        tooBig.memoryMiB = 4096;
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, lib.add(tooBig));
        QCOMPARE(lib.count(), 1);
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);
        QCOMPARE(lib.uniqueName(QStringLiteral("one")), QStringLiteral("one 2"));
    }

    void writesAreAtomic() {
        QTemporaryDir dir;
        QString path = dir.filePath(QStringLiteral("x.json"));
        VmDefinition a = sample(QStringLiteral("x"));
        writeDefinitionFile(path, a);
        ino_t before = inodeOf(path);
        a.memoryMiB = 1024;
        writeDefinitionFile(path, a);
        // Replaced by rename (a new inode), never rewritten in place; no temporary files left.
        QVERIFY(inodeOf(path) != before);
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden),
                 QStringList{QStringLiteral("x.json")});
        QCOMPARE(readDefinitionFile(path).memoryMiB, 1024u);
        // A write that cannot happen throws with the file name and leaves nothing behind.
        QString bad = dir.filePath(QStringLiteral("missing/dir/y.json"));
        try {
            writeDefinitionFile(bad, a);
            QFAIL("no exception");
        } catch (const std::runtime_error& e) {
            QVERIFY(QString::fromUtf8(e.what()).contains(bad));
        }
    }

    void hostileFilesAreSkippedWithReasons() {
        QTemporaryDir dir;
        VmLibrary lib(dir.path());
        lib.add(sample(QStringLiteral("good")));
        writeFile(dir.filePath(QStringLiteral("garbage.json")), "{not json");
        writeFile(dir.filePath(QStringLiteral("array.json")), "[1,2,3]");
        writeFile(dir.filePath(QStringLiteral("types.json")),
                  R"({"name":"types","memory-mib":"lots"})");
        writeFile(dir.filePath(QStringLiteral("huge.json")),
                  R"({"name":"huge","memory-mib":1e300})");
        writeFile(dir.filePath(QStringLiteral("disks.json")),
                  R"({"name":"disks","memory-mib":64,"disks":[1,2]})");
        writeFile(
            dir.filePath(QStringLiteral("boot.json")),
            R"({"name":"boot","memory-mib":64,"disks":[{"file":"d"}],"boot":{"kind":"floppy"}})");
        writeFile(dir.filePath(QStringLiteral("other.json")),
                  R"({"name":"elsewhere","memory-mib":64,"disks":[{"file":"d"}]})");
        writeFile(dir.filePath(QStringLiteral("frac.json")),
                  R"({"name":"frac","memory-mib":64.5})");
        writeFile(dir.filePath(QStringLiteral("neg.json")),
                  R"({"name":"neg","memory-mib":-1e300})");
        QByteArray big(2 << 20, ' ');
        writeFile(dir.filePath(QStringLiteral("big.json")), big);
        lib.reload();
        QCOMPARE(lib.count(), 1);
        QCOMPARE(lib.at(0).name, QStringLiteral("good"));
        QCOMPARE(lib.loadErrors().size(), 10);
        QString all = lib.loadErrors().join(QLatin1Char('\n'));
        QVERIFY(all.contains(QStringLiteral("garbage.json: bad JSON")));
        QVERIFY(all.contains(QStringLiteral("'memory-mib' must be an integer")));
        QVERIFY(all.contains(QStringLiteral("unknown boot kind 'floppy'")));
        QVERIFY(all.contains(QStringLiteral("the file name must be 'elsewhere.json'")));
        QVERIFY(all.contains(QStringLiteral("too big")));
    }

    void jsonRoundTrip() {
        VmDefinition a = sample(QStringLiteral("rt"));
        QVERIFY(fromJson(toJson(a), QStringLiteral("test")) == a);
        a.boot = BootKind::Demo;
        a.bootPath.clear();
        QVERIFY(fromJson(toJson(a), QStringLiteral("test")) == a);
    }
};

QTEST_MAIN(TestVmLibrary)
#include "tst_vmlibrary.moc"
