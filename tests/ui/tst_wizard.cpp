// NewVmWizard driven programmatically: creates the disk files and the definition file (a new
// qcow2 disk with a recording bitmap, so changes are tracked from the start); refuses
// duplicates without leaving files behind; accepts images dropped onto the disks page; every
// page styled alike.
#include "block/ImageOpen.h"
#include "block/bitmap/BitmapCatalog.h"
#include "ui/library/VmLibrary.h"
#include "ui/wizard/NewVmWizard.h"

#include <QDir>
#include <QDropEvent>
#include <QFile>
#include <QLineEdit>
#include <QMimeData>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QUrl>
#include <QWizardPage>

#include <memory>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {
void makeRaw(const QString& path, qint64 size) {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    QVERIFY(f.resize(size));
}
} // namespace

class TestWizard : public QObject {
    Q_OBJECT
private slots:
    void createsVmWithNewAndExistingDisks() {
        QTemporaryDir tmp;
        VmLibrary lib(tmp.filePath(QStringLiteral("vms")));
        QString existing = tmp.filePath(QStringLiteral("old.raw"));
        makeRaw(existing, 4 << 20);
        NewVmWizard wizard(lib, tmp.filePath(QStringLiteral("data")), QString());
        wizard.setVmName(QStringLiteral("Worker"));
        wizard.setMemoryMiB(384);
        wizard.setDisplaySize(QSize(800, 600));
        wizard.clearDisks();
        wizard.addNewDisk(QStringLiteral("qcow2"), 8 << 20);
        wizard.addNewDisk(QStringLiteral("raw"), 2 << 20);
        wizard.addExistingDisk(existing, true);
        wizard.setBootProgram(int(BootKind::Kernel), QStringLiteral("/boot/kernel.elf"));
        wizard.accept();
        QCOMPARE(wizard.lastError(), QString());
        QCOMPARE(wizard.createdName(), QStringLiteral("Worker"));
        QCOMPARE(wizard.result(), int(QDialog::Accepted));

        VmLibrary reread(tmp.filePath(QStringLiteral("vms")));
        reread.reload();
        QCOMPARE(reread.count(), 1);
        VmDefinition def = reread.at(0);
        QCOMPARE(def.memoryMiB, 384u);
        QCOMPARE(def.display, QSize(800, 600));
        QCOMPARE(def.boot, BootKind::Kernel);
        QCOMPARE(def.disks.size(), 3);
        QCOMPARE(def.disks[2].file, existing);
        QVERIFY(def.disks[2].readOnly);
        for (int i = 0; i < 2; ++i) {
            QVERIFY2(QFile::exists(def.disks[i].file), qPrintable(def.disks[i].file));
            QCOMPARE(QString::fromStdString(block::probeFormat(def.disks[i].file.toStdString())),
                     def.disks[i].format);
            block::OpenOptions o;
            auto image = block::openImage(def.disks[i].file.toStdString(), o);
            QCOMPARE(image->size(), i == 0 ? uint64_t(8 << 20) : uint64_t(2 << 20));
            // The new qcow2 disk records changes in a persistent bitmap from the start.
            if (i == 0) {
                QVERIFY(image->bitmaps());
                auto tracking = image->bitmaps()->find(kTrackingBitmapName);
                QVERIFY(tracking);
                QVERIFY(tracking->enabled);
                QVERIFY(tracking->persistent);
            }
        }
    }

    void duplicateNameLeavesNoFiles() {
        QTemporaryDir tmp;
        VmLibrary lib(tmp.filePath(QStringLiteral("vms")));
        VmDefinition taken;
        taken.name = QStringLiteral("Taken");
        taken.boot = BootKind::Kernel;
        taken.bootPath = QStringLiteral("/k.elf");
        lib.add(taken);
        QString data = tmp.filePath(QStringLiteral("data"));
        NewVmWizard wizard(lib, data, QString());
        wizard.setVmName(QStringLiteral("taken"));
        QVERIFY(!wizard.page(wizard.pageIds().at(0))->isComplete()); // the name page says no
        wizard.clearDisks();
        wizard.addNewDisk(QStringLiteral("qcow2"), 1 << 20);
        wizard.accept();
        QVERIFY(wizard.lastError().contains(QStringLiteral("exists already")));
        QCOMPARE(lib.count(), 1);
        QVERIFY(QDir(data).entryList(QDir::Files).isEmpty());
    }

    void demoBootNeedsADisk() {
        QTemporaryDir tmp;
        VmLibrary lib(tmp.filePath(QStringLiteral("vms")));
        NewVmWizard wizard(lib, tmp.filePath(QStringLiteral("data")), QString());
        wizard.setVmName(QStringLiteral("Empty"));
        wizard.clearDisks();
        wizard.accept();
        QVERIFY(wizard.lastError().contains(QStringLiteral("no disk")));
        QCOMPARE(lib.count(), 0);
    }

    void droppedFilesBecomeDisks() {
        QTemporaryDir tmp;
        VmLibrary lib(tmp.filePath(QStringLiteral("vms")));
        QString a = tmp.filePath(QStringLiteral("a.raw"));
        QString b = tmp.filePath(QStringLiteral("b.raw"));
        makeRaw(a, 1 << 20);
        makeRaw(b, 1 << 20);
        NewVmWizard wizard(lib, tmp.filePath(QStringLiteral("data")), QString());
        wizard.clearDisks();
        wizard.restart();
        wizard.next(); // the default name is free, so the disks page comes next
        QWizardPage* disksPage = wizard.currentPage();
        QCOMPARE(disksPage, wizard.page(wizard.pageIds().at(1)));
        QVERIFY(disksPage->acceptDrops());
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(a), QUrl::fromLocalFile(b)});
        QDragEnterEvent enter(QPoint(5, 5), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(disksPage, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(5, 5), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(disksPage, &drop);
        QCOMPARE(wizard.plannedDisks().size(), 2);
        QCOMPARE(wizard.plannedDisks()[0].file, a);
        QCOMPARE(wizard.plannedDisks()[1].kind, PlannedDisk::Existing);
        QCOMPARE(wizard.plannedDisks()[1].format, QStringLiteral("raw"));
    }

    // Every page is styled alike: a title and a subtitle (the header band), and its greyed
    // fields say why; the disks table keeps a long path on one line with the whole of it as
    // the tooltip.
    void pagesLookAlike() {
        QTemporaryDir tmp;
        VmLibrary lib(tmp.filePath(QStringLiteral("vms")));
        const QString existing =
            tmp.filePath(QStringLiteral("an-image-with-a-long-name-in-a-folder-of-its-own.raw"));
        makeRaw(existing, 1 << 20);
        NewVmWizard wizard(lib, tmp.filePath(QStringLiteral("data")), QString());
        wizard.addExistingDisk(existing);
        const QList<int> ids = wizard.pageIds();
        QCOMPARE(ids.size(), 3);
        for (int id : ids) {
            QWizardPage* page = wizard.page(id);
            QVERIFY2(!page->title().isEmpty(), qPrintable(QString::number(id)));
            QVERIFY2(!page->subTitle().isEmpty(), qPrintable(page->title()));
        }
        auto* table = wizard.findChild<QTableWidget*>();
        QVERIFY(table);
        QVERIFY(!table->wordWrap());
        QCOMPARE(table->textElideMode(), Qt::ElideMiddle);
        QCOMPARE(table->item(table->rowCount() - 1, 0)->toolTip(), existing);
        // The demo guest needs no boot file: the greyed field says so.
        for (auto* edit : wizard.page(ids.at(2))->findChildren<QLineEdit*>())
            if (!edit->isEnabled())
                QVERIFY(!edit->toolTip().isEmpty());
        // E2KVM_SCREENSHOT_DIR=dir saves each page for a look by eye.
        if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
            wizard.show();
            QVERIFY(QTest::qWaitForWindowExposed(&wizard));
            wizard.restart();
            for (int i = 0; i < ids.size(); ++i) {
                QTest::qWait(100);
                QVERIFY(wizard.grab().save(QStringLiteral("%1/wizard-%2.png").arg(dir).arg(i + 1)));
                wizard.next();
            }
            wizard.hide();
        }
    }
};

QTEST_MAIN(TestWizard)
#include "tst_wizard.moc"
