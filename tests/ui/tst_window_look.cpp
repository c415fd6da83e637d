// What the main window shows around the panels (issue 17, GUI walkthrough): every toolbar
// action has an icon (also without a desktop icon theme), every VM in the library has a picture
// before it has shown a screen, and a Help menu holds About (name, version, description,
// license, Qt version) and the documentation (the README).
#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "ui/AppContext.h"
#include "ui/library/GuestFiles.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/HelpDialogs.h"
#include "ui/mainwindow/MainWindow.h"

#include <QAction>
#include <QIcon>
#include <QListView>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <QToolBar>

using namespace e2kvm;
using namespace e2kvm::ui;

namespace {

// A window over a library of one VM that boots a kernel of its own (no guest files needed).
struct WindowSetup {
    QTemporaryDir tmp;
    vm::BlockNodeTable nodes;
    vm::NbdExportService exports{nodes};
    AppContext ctx;
    VmLibrary library{tmp.filePath(QStringLiteral("vms"))};

    WindowSetup() {
        ctx.nodes = &nodes;
        ctx.exports = &exports;
        VmDefinition def;
        def.name = QStringLiteral("Worker");
        def.boot = BootKind::Kernel;
        def.bootPath = tmp.filePath(QStringLiteral("kernel.elf"));
        library.add(def);
    }
};

bool drawsSomething(const QIcon& icon) {
    if (icon.isNull())
        return false;
    const QImage image = icon.pixmap(QSize(24, 24)).toImage();
    if (image.isNull())
        return false;
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x)
            if (qAlpha(image.pixel(x, y)) > 0)
                return true;
    return false;
}

QMenu* menuNamed(QMainWindow& window, const QString& title) {
    for (QAction* a : window.menuBar()->actions())
        if (a->menu() && a->text() == title)
            return a->menu();
    return nullptr;
}

} // namespace

class TestWindowLook : public QObject {
    Q_OBJECT
private slots:
    void toolbarActionsHaveIcons() {
        WindowSetup s;
        MainWindow window(s.ctx, s.library, GuestFiles{}, s.tmp.filePath(QStringLiteral("data")));
        auto* bar = window.findChild<QToolBar*>(QStringLiteral("vmToolbar"));
        QVERIFY(bar);
        int checked = 0;
        for (QAction* a : bar->actions()) {
            if (a->isSeparator())
                continue;
            QVERIFY2(drawsSomething(a->icon()), qPrintable(a->text()));
            ++checked;
        }
        QVERIFY(checked >= 7); // New, Run, Pause, Reset, Shut Down, Force Off, Screenshot
        // The VM menu's other actions (Clone, Delete) have pictures too.
        QVERIFY(drawsSomething(window.cloneAction()->icon()));
    }

    void libraryShowsAPictureOfEveryVm() {
        WindowSetup s;
        MainWindow window(s.ctx, s.library, GuestFiles{}, s.tmp.filePath(QStringLiteral("data")));
        // Never run: no thumbnail yet, still a picture (a switched-off monitor).
        const QVariant decoration = s.library.data(s.library.index(0), Qt::DecorationRole);
        QVERIFY(decoration.canConvert<QIcon>());
        QVERIFY(drawsSomething(decoration.value<QIcon>()));
        QVERIFY(s.library.data(s.library.index(0), VmLibrary::ThumbnailRole).isNull());
        // The list shows it: the row is at least as tall as the icon size.
        auto* list = window.findChild<QListView*>();
        QVERIFY(list);
        QVERIFY(list->sizeHintForIndex(s.library.index(0)).height() >= list->iconSize().height());
        // E2KVM_SCREENSHOT_DIR=dir saves the window (library, toolbar) for a look by eye.
        if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            QVERIFY(window.grab().save(dir + QStringLiteral("/library-never-run.png")));
        }
        // A thumbnail, once there, takes its place.
        QImage thumb(128, 96, QImage::Format_RGB32);
        thumb.fill(Qt::blue);
        s.library.setThumbnail(QStringLiteral("Worker"), thumb);
        QCOMPARE(s.library.data(s.library.index(0), Qt::DecorationRole).value<QImage>().pixel(1, 1),
                 thumb.pixel(1, 1));
    }

    void helpMenuHasAboutAndDocumentation() {
        WindowSetup s;
        MainWindow window(s.ctx, s.library, GuestFiles{}, s.tmp.filePath(QStringLiteral("data")));
        QMenu* help = menuNamed(window, QStringLiteral("&Help"));
        QVERIFY(help);
        QVERIFY(help->actions().contains(window.aboutAction()));
        QVERIFY(help->actions().contains(window.documentationAction()));

        window.aboutAction()->trigger();
        auto* about = window.findChild<QMessageBox*>(QStringLiteral("aboutBox"));
        QVERIFY(about);
        const QString text = about->text();
        QVERIFY2(text.contains(QStringLiteral("e2kvm %1").arg(QStringLiteral(E2KVM_TEST_VERSION))),
                 qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("incremental disk backup")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("License:")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("Qt %1").arg(QLatin1String(qVersion()))),
                 qPrintable(text));
        if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
            QVERIFY(QTest::qWaitForWindowExposed(about));
            QVERIFY(about->grab().save(dir + QStringLiteral("/about.png")));
        }
        about->close();

        // The README of the source tree is there in a build tree: Documentation shows it.
        QVERIFY(!readmePath().isEmpty());
        QVERIFY(window.documentationAction()->isEnabled());
        window.documentationAction()->trigger();
        auto* docs = window.findChild<QDialog*>(QStringLiteral("documentationDialog"));
        QVERIFY(docs);
        auto* browser = docs->findChild<QTextBrowser*>();
        QVERIFY(browser);
        const QString shown = browser->toPlainText();
        QVERIFY2(shown.contains(QStringLiteral("incremental backup")), qPrintable(shown.left(400)));
        QVERIFY(!shown.contains(QStringLiteral("## "))); // rendered, not raw Markdown
        if (QString dir = qEnvironmentVariable("E2KVM_SCREENSHOT_DIR"); !dir.isEmpty()) {
            QVERIFY(QTest::qWaitForWindowExposed(docs));
            QVERIFY(docs->grab().save(dir + QStringLiteral("/documentation.png")));
        }
        docs->close();
    }
};

QTEST_MAIN(TestWindowLook)
#include "tst_window_look.moc"
