#include "ui/mainwindow/MainWindow.h"

#include "block/ImageOpen.h"

#include "ui/jobs/JobProgress.h"

#include "ui/panels/PanelFeedback.h"

#include "app/vmcore/BlockNodeTable.h"
#include "app/vmcore/NbdExportService.h"
#include "block/ImageOpen.h"
#include "emu/display/FramePublisher.h"
#include "emu/display/Png.h"
#include "ui/console/ConsoleWidget.h"
#include "ui/jobs/JobProgress.h"
#include "ui/library/ImageCopy.h"
#include "ui/library/VmLibrary.h"
#include "ui/mainwindow/DetailsPage.h"
#include "ui/mainwindow/HelpDialogs.h"
#include "ui/mainwindow/VmSession.h"
#include "ui/panels/PanelFeedback.h"
#include "ui/wizard/NewVmWizard.h"

#include "ui/log/LogModel.h"
#include "ui/log/LogView.h"
#include "ui/panels/BackupsPanel.h"
#include "ui/panels/BitmapsPanel.h"
#include "ui/panels/ExportsPanel.h"
#include "ui/panels/ImagesPanel.h"

#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QLabel>
#include <QListView>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QSplitter>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QTimer>
#include <QToolBar>

#include <cstdio>

namespace e2kvm::ui {

namespace {

QString humanRate(double bytesPerSecond) {
    const char* units[] = {"B", "KiB", "MiB", "GiB"};
    int u = 0;
    while (bytesPerSecond >= 1024 && u < 3) {
        bytesPerSecond /= 1024;
        ++u;
    }
    return QStringLiteral("%1 %2/s")
        .arg(bytesPerSecond, 0, 'f', u == 0 ? 0 : 1)
        .arg(QLatin1String(units[u]));
}

QStringList diskFiles(const VmDefinition& def) {
    QStringList files;
    for (const VmDisk& d : def.disks)
        files << d.file;
    return files;
}

} // namespace

MainWindow::MainWindow(AppContext& context, VmLibrary& library, GuestFiles guest, QString dataDir,
                       QWidget* parent)
    : QMainWindow(parent), ctx_(context), library_(library), guest_(std::move(guest)),
      dataDir_(std::move(dataDir)) {
    setWindowTitle(tr("e2kvm"));
    list_ = new QListView;
    list_->setModel(&library_);
    list_->setIconSize(QSize(128, 96));
    list_->setSpacing(4);
    list_->setUniformItemSizes(false);
    list_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    list_->setMinimumWidth(220);

    tabs_ = new QTabWidget;
    console_ = new ConsoleWidget;
    tabs_->addTab(console_, tr("Console"));
    details_ = new DetailsPage;
    tabs_->addTab(details_, tr("Details"));
    auto* images = new ImagesPanel(ctx_);
    auto* bitmaps = new BitmapsPanel(ctx_);
    auto* exports = new ExportsPanel(ctx_);
    auto* backups = new BackupsPanel(ctx_, library_, dataDir_);
    imagePanels_ = {images, bitmaps, exports, backups};
    tabs_->addTab(images, tr("Images"));
    tabs_->addTab(bitmaps, tr("Bitmaps"));
    tabs_->addTab(exports, tr("Exports"));
    tabs_->addTab(backups, tr("Backups"));
    if (ctx_.log)
        tabs_->addTab(new LogView(*ctx_.log), tr("Log"));

    auto* split = new QSplitter;
    split->addWidget(list_);
    split->addWidget(tabs_);
    split->setStretchFactor(1, 1);
    setCentralWidget(split);

    stateLabel_ = new QLabel;
    stateLabel_->setContentsMargins(0, 0, 12, 0); // apart from the hint next to it
    diskLabel_ = new QLabel;
    nbdLabel_ = new QLabel;
    grabLabel_ = new QLabel(tr("Click the console to type; Ctrl+Alt+G grabs the keyboard"));
    statusBar()->addWidget(stateLabel_);
    statusBar()->addWidget(grabLabel_, 1);
    statusBar()->addPermanentWidget(diskLabel_);
    statusBar()->addPermanentWidget(nbdLabel_);

    buildActions();
    buildMenus();

    connect(list_->selectionModel(), &QItemSelectionModel::currentChanged, this,
            [this] { onSelectionChanged(); });
    connect(&library_, &QAbstractItemModel::modelReset, this, [this] { onSelectionChanged(); });
    connect(details_, &DetailsPage::applyRequested, this, &MainWindow::applyDetails);
    connect(console_, &ConsoleWidget::keyboardGrabChanged, this, [this](bool grabbed) {
        grabAct_->setChecked(grabbed);
        grabLabel_->setText(grabbed
                                ? tr("Keyboard grabbed: press Ctrl+Alt+G to release")
                                : tr("Click the console to type; Ctrl+Alt+G grabs the keyboard"));
    });

    auto* timer = new QTimer(this);
    connect(timer, &QTimer::timeout, this, &MainWindow::refreshStatus);
    timer->start(1000);

    resize(1280, 860);
    if (library_.count() > 0)
        list_->setCurrentIndex(library_.index(0));
    onSelectionChanged();
    refreshStatus();
}

MainWindow::~MainWindow() {
    console_->detach();
    for (auto& [name, s] : sessions_)
        delete s; // force off
    sessions_.clear();
}

QIcon MainWindow::actionIcon(const char* themeName, QStyle::StandardPixmap fallback) const {
    // The desktop's icon theme where it has the icon, else the style's own picture (a desktop
    // without an icon theme, such as a bare X server, still shows icons).
    return QIcon::fromTheme(QString::fromLatin1(themeName), style()->standardIcon(fallback));
}

void MainWindow::buildActions() {
    newAct_ = new QAction(actionIcon("document-new", QStyle::SP_FileIcon), tr("&New…"), this);
    newAct_->setShortcut(QKeySequence::New);
    cloneAct_ = new QAction(actionIcon("edit-copy", QStyle::SP_FileDialogContentsView),
                            tr("&Clone…"), this);
    deleteAct_ = new QAction(actionIcon("edit-delete", QStyle::SP_TrashIcon), tr("&Delete…"), this);
    runAct_ =
        new QAction(actionIcon("media-playback-start", QStyle::SP_MediaPlay), tr("&Run"), this);
    runAct_->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    pauseAct_ =
        new QAction(actionIcon("media-playback-pause", QStyle::SP_MediaPause), tr("&Pause"), this);
    pauseAct_->setCheckable(true);
    resetAct_ =
        new QAction(actionIcon("view-refresh", QStyle::SP_BrowserReload), tr("Rese&t"), this);
    shutDownAct_ =
        new QAction(actionIcon("system-shutdown", QStyle::SP_MediaStop), tr("&Shut Down"), this);
    shutDownAct_->setToolTip(
        tr("Store the disks and bitmaps, then stop the VM (the machine has no ACPI power button)"));
    forceOffAct_ =
        new QAction(actionIcon("process-stop", QStyle::SP_BrowserStop), tr("&Force Off…"), this);
    forceOffAct_->setToolTip(tr("Stop the VM at once, like pulling the plug (asks first)"));
    screenshotAct_ =
        new QAction(actionIcon("camera-photo", QStyle::SP_DesktopIcon), tr("Scree&nshot…"), this);

    connect(newAct_, &QAction::triggered, this, &MainWindow::newVm);
    connect(cloneAct_, &QAction::triggered, this, &MainWindow::cloneVm);
    connect(deleteAct_, &QAction::triggered, this, &MainWindow::deleteVm);
    connect(runAct_, &QAction::triggered, this, [this] { runSelected(); });
    connect(pauseAct_, &QAction::triggered, this, &MainWindow::pauseVm);
    connect(resetAct_, &QAction::triggered, this, &MainWindow::resetVm);
    connect(shutDownAct_, &QAction::triggered, this, [this] { shutDownVm(false); });
    connect(forceOffAct_, &QAction::triggered, this, [this] {
        // Like pulling the plug: what the guest has not written yet is lost. Ask first.
        VmSession* s = selectedSession();
        if (!s || !s->isActive())
            return;
        if (!property("noConfirm").toBool()) {
            QMessageBox ask(QMessageBox::Warning, tr("Force Off %1").arg(s->definition().name),
                            tr("Turn %1 off at once, like pulling the plug? The guest cannot "
                               "finish what it is writing.")
                                .arg(s->definition().name),
                            QMessageBox::Cancel, this);
            ask.setObjectName(QStringLiteral("forceOffConfirm"));
            QPushButton* off = ask.addButton(tr("Force Off"), QMessageBox::DestructiveRole);
            ask.exec();
            if (ask.clickedButton() != off)
                return;
        }
        shutDownVm(true);
    });
    connect(screenshotAct_, &QAction::triggered, this, &MainWindow::screenshot);

    documentationAct_ = new QAction(actionIcon("help-contents", QStyle::SP_DialogHelpButton),
                                    tr("&Documentation"), this);
    documentationAct_->setShortcut(QKeySequence::HelpContents);
    documentationAct_->setEnabled(!readmePath().isEmpty());
    documentationAct_->setToolTip(documentationAct_->isEnabled()
                                      ? tr("Show the README: %1").arg(readmePath())
                                      : tr("No README was found next to the program"));
    aboutAct_ = new QAction(actionIcon("help-about", QStyle::SP_MessageBoxInformation),
                            tr("&About e2kvm"), this);
    connect(documentationAct_, &QAction::triggered, this, [this] { openDocumentation(this); });
    connect(aboutAct_, &QAction::triggered, this, [this] { openAbout(this); });

    // Ctrl = 0x1D, Alt = 0x38 (set 1).
    struct Combo {
        QString label;
        std::vector<uint16_t> codes;
    };
    const std::vector<Combo> combos = {
        {tr("Ctrl+Alt+Del"), {0x1D, 0x38, 0xE053}}, {tr("Ctrl+Alt+Backspace"), {0x1D, 0x38, 0x0E}},
        {tr("Ctrl+Alt+F1"), {0x1D, 0x38, 0x3B}},    {tr("Ctrl+Alt+F2"), {0x1D, 0x38, 0x3C}},
        {tr("Ctrl+Alt+F3"), {0x1D, 0x38, 0x3D}},    {tr("Ctrl+Alt+F4"), {0x1D, 0x38, 0x3E}},
    };
    for (const Combo& c : combos) {
        auto* a = new QAction(c.label, this);
        std::vector<uint16_t> codes = c.codes;
        connect(a, &QAction::triggered, this, [this, codes] { sendKeys(codes); });
        sendKeyActs_ << a;
    }

    auto* scaleGroup = new QActionGroup(this);
    fitAct_ = new QAction(tr("&Fit to Window"), scaleGroup);
    integerAct_ = new QAction(tr("&Integer Scale"), scaleGroup);
    oneToOneAct_ = new QAction(tr("&1:1"), scaleGroup);
    for (QAction* a : {fitAct_, integerAct_, oneToOneAct_})
        a->setCheckable(true);
    fitAct_->setChecked(true);
    connect(fitAct_, &QAction::triggered, this, [this] { console_->setScaleMode(ScaleMode::Fit); });
    connect(integerAct_, &QAction::triggered, this,
            [this] { console_->setScaleMode(ScaleMode::Integer); });
    connect(oneToOneAct_, &QAction::triggered, this,
            [this] { console_->setScaleMode(ScaleMode::OneToOne); });
    fullScreenAct_ = new QAction(tr("F&ullscreen"), this);
    fullScreenAct_->setCheckable(true);
    fullScreenAct_->setShortcut(QKeySequence(Qt::CTRL | Qt::ALT | Qt::Key_F));
    connect(fullScreenAct_, &QAction::toggled, this, &MainWindow::setFullScreen);
    grabAct_ = new QAction(tr("&Grab Keyboard"), this);
    grabAct_->setCheckable(true);
    connect(grabAct_, &QAction::triggered, this, [this](bool on) {
        console_->setFocus();
        console_->setKeyboardGrabbed(on);
    });
}

void MainWindow::buildMenus() {
    QMenu* vm = menuBar()->addMenu(tr("&VM"));
    vm->addActions({newAct_, cloneAct_, deleteAct_});
    vm->addSeparator();
    vm->addActions({runAct_, pauseAct_, resetAct_, shutDownAct_, forceOffAct_});
    vm->addSeparator();
    vm->addAction(screenshotAct_);
    QMenu* keys = vm->addMenu(tr("Send &Key"));
    keys->addActions(sendKeyActs_);
    vm->addSeparator();
    QAction* quit = vm->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    QMenu* view = menuBar()->addMenu(tr("Vie&w"));
    view->addActions({fitAct_, integerAct_, oneToOneAct_});
    view->addSeparator();
    view->addActions({fullScreenAct_, grabAct_});

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->setObjectName(QStringLiteral("helpMenu"));
    help->addActions({documentationAct_, aboutAct_});
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    QToolBar* bar = addToolBar(tr("VM"));
    bar->setObjectName(QStringLiteral("vmToolbar"));
    bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    bar->addActions({newAct_, runAct_, pauseAct_, resetAct_, shutDownAct_, forceOffAct_});
    bar->addSeparator();
    bar->addAction(screenshotAct_);
}

QString MainWindow::selectedVmName() const {
    QModelIndex i = list_->currentIndex();
    return i.isValid() ? library_.at(i.row()).name : QString();
}

bool MainWindow::selectVm(const QString& name) {
    int row = library_.indexOf(name);
    if (row < 0)
        return false;
    list_->setCurrentIndex(library_.index(row));
    onSelectionChanged();
    return true;
}

VmSession* MainWindow::selectedSession() const {
    auto it = sessions_.find(selectedVmName());
    return it == sessions_.end() ? nullptr : it->second;
}

QWidget* MainWindow::tabPage(const QString& title) const {
    for (int i = 0; i < tabs_->count(); ++i)
        if (tabs_->tabText(i) == title)
            return tabs_->widget(i);
    return nullptr;
}

void MainWindow::showTab(const QString& title) {
    if (QWidget* w = tabPage(title))
        tabs_->setCurrentWidget(w);
}

void MainWindow::log(const QString& level, const QString& text) {
    if (ctx_.log)
        ctx_.log->append(level, text);
    if (level == QLatin1String("error") || level == QLatin1String("warning")) {
        statusBar()->showMessage(text, 10000);
        std::fprintf(stderr, "e2kvm: %s: %s\n", qPrintable(level), qPrintable(text));
    }
}

void MainWindow::onSelectionChanged() {
    QString name = selectedVmName();
    VmSession* session = selectedSession();
    if (attached_ != session) {
        console_->detach();
        attached_ = session;
        if (session)
            console_->attach(&session->display(), &session->input());
        emit selectedSessionChanged(session);
    }
    int row = library_.indexOf(name);
    if (auto* backups = qobject_cast<BackupsPanel*>(tabPage(tr("Backups"))))
        backups->setVm(row >= 0 ? name : QString());
    if (auto* images = qobject_cast<ImagesPanel*>(tabPage(tr("Images"))))
        images->setVm(row >= 0 ? name : QString());
    if (row >= 0) {
        const VmDefinition& def = library_.at(row);
        details_->setDefinition(def);
        // Selecting is looking: the panels look at the disks read-only; the disks are opened
        // for writing when the VM starts (VmSession) or the user changes one.
        QStringList files = diskFiles(def);
        for (QWidget* p : imagePanels_)
            QMetaObject::invokeMethod(p, "setImages", Q_ARG(QStringList, files));
    } else {
        for (QWidget* p : imagePanels_)
            QMetaObject::invokeMethod(p, "setImages", Q_ARG(QStringList, QStringList()));
    }
    updateActions();
}

void MainWindow::updateActions() {
    bool selected = !selectedVmName().isEmpty();
    VmSession* s = selectedSession();
    bool active = s && s->isActive();
    bool paused = active && s->stateName() == QLatin1String("paused");
    // A copy of disks the guest is writing is not a point in time (and a paused VM may be
    // resumed while the copy runs): clone a stopped VM.
    cloneAct_->setEnabled(selected && !active);
    const QString cloneTip = active ? cloneRefusedText() : tr("Copy this VM, with its disks");
    cloneAct_->setToolTip(cloneTip);
    cloneAct_->setStatusTip(cloneTip);
    deleteAct_->setEnabled(selected && !active);
    runAct_->setEnabled(selected && !active);
    pauseAct_->setEnabled(active);
    pauseAct_->setChecked(paused);
    resetAct_->setEnabled(active);
    shutDownAct_->setEnabled(active);
    forceOffAct_->setEnabled(active);
    screenshotAct_->setEnabled(s != nullptr);
    for (QAction* a : sendKeyActs_)
        a->setEnabled(active);
    details_->setEditable(selected && !active);
    if (panelsRunning_ != int(active)) {
        panelsRunning_ = int(active);
        for (QWidget* p : imagePanels_)
            QMetaObject::invokeMethod(p, "setVmRunning", Q_ARG(bool, active));
    }
    // One word for a VM that does not run: "stopped" (QEMU's run state says "shutdown").
    const QString state = !s || (!active && s->stateName() == QLatin1String("shutdown"))
                              ? tr("stopped")
                              : s->stateName();
    stateLabel_->setText(selected ? tr("%1: %2").arg(selectedVmName(), state)
                                  : tr("No VM selected"));
    // The console keeps the last frame of a paused or stopped VM: say that it is not live.
    console_->setStateBanner(paused ? tr("Paused") : s && !active ? tr("Stopped") : QString());
}

bool MainWindow::runSelected() {
    QString name = selectedVmName();
    int row = library_.indexOf(name);
    if (row < 0)
        return false;
    auto it = sessions_.find(name);
    if (it != sessions_.end()) {
        if (it->second->isActive())
            return true;
        if (attached_ == it->second) {
            console_->detach();
            attached_ = nullptr;
            emit selectedSessionChanged(nullptr);
        }
        delete it->second;
        sessions_.erase(it);
    }
    VmSession* session = nullptr;
    try {
        session = new VmSession(library_.at(row), *ctx_.nodes, guest_.rom, this);
        connect(session, &VmSession::stateChanged, this,
                [this, name](const QString& state) { onSessionState(name, state); });
        connect(session, &VmSession::eventText, this, [this, name](const QString& text) {
            log(QStringLiteral("info"), tr("%1: %2").arg(name, text));
        });
        sessions_[name] = session;
        lastWritten_[name] = 0;
        attached_ = session;
        console_->attach(&session->display(), &session->input());
        emit selectedSessionChanged(session);
        session->start(false);
    } catch (const std::exception& e) {
        if (session) {
            sessions_.erase(name);
            console_->detach();
            attached_ = nullptr;
            emit selectedSessionChanged(nullptr);
            delete session;
        }
        log(QStringLiteral("error"),
            tr("Cannot start %1: %2").arg(name, QString::fromStdString(e.what())));
        updateActions();
        return false;
    }
    log(QStringLiteral("info"), tr("%1 started").arg(name));
    showTab(tr("Console"));
    console_->setFocus();
    updateActions();
    return true;
}

void MainWindow::onSessionState(const QString& name, const QString& state) {
    library_.setRunState(name, state == QLatin1String("shutdown") ? tr("stopped") : state);
    if (name == selectedVmName())
        updateActions();
}

void MainWindow::pauseVm() {
    VmSession* s = selectedSession();
    if (!s || !s->isActive())
        return;
    if (s->stateName() == QLatin1String("paused"))
        s->resume();
    else
        s->pause();
}

void MainWindow::resetVm() {
    if (VmSession* s = selectedSession())
        s->reset();
}

void MainWindow::shutDownVm(bool force) {
    VmSession* s = selectedSession();
    if (!s || !s->isActive())
        return;
    try {
        if (force)
            s->forceOff();
        else
            s->shutDown();
        log(QStringLiteral("info"),
            force ? tr("%1 forced off").arg(s->definition().name)
                  : tr("%1 shut down; disks and bitmaps stored").arg(s->definition().name));
    } catch (const std::exception& e) {
        log(QStringLiteral("error"),
            tr("Shutting down %1: %2").arg(s->definition().name, QString::fromStdString(e.what())));
    }
    updateActions();
}

void MainWindow::screenshot() {
    VmSession* s = selectedSession();
    if (!s)
        return;
    std::shared_ptr<const emu::FrameImage> frame = s->display().latest();
    if (!frame) {
        log(QStringLiteral("warning"),
            tr("%1 has not drawn anything yet").arg(s->definition().name));
        return;
    }
    QString suggested = QDir::home().filePath(
        QStringLiteral("%1-%2.png")
            .arg(s->definition().name,
                 QDateTime::currentDateTime().toString(QStringLiteral("yyyyMMdd-HHmmss"))));
    QString path = QFileDialog::getSaveFileName(this, tr("Save screenshot"), suggested,
                                                tr("PNG images (*.png)"));
    if (path.isEmpty())
        return;
    try {
        emu::writePngFile(path.toStdString(), *frame);
        log(QStringLiteral("info"), tr("Screenshot saved to %1").arg(path));
    } catch (const std::exception& e) {
        log(QStringLiteral("error"), QString::fromStdString(e.what()));
    }
}

void MainWindow::sendKeys(std::vector<uint16_t> codes) {
    console_->sendKeys(codes);
    console_->setFocus();
}

void MainWindow::setFullScreen(bool on) {
    // Fullscreen shows the console alone: hide the library, tabs bar, menus and toolbars.
    list_->setVisible(!on);
    tabs_->tabBar()->setVisible(!on);
    menuBar()->setVisible(!on);
    statusBar()->setVisible(!on);
    for (QToolBar* t : findChildren<QToolBar*>())
        t->setVisible(!on);
    if (on) {
        showTab(tr("Console"));
        showFullScreen();
    } else {
        showNormal();
    }
}

void MainWindow::applyDetails(const VmDefinition& def) {
    int row = library_.indexOf(selectedVmName());
    if (row < 0)
        return;
    try {
        library_.update(row, def);
        log(QStringLiteral("info"), tr("%1 saved").arg(def.name));
        selectVm(def.name);
        details_->showResult(
            tr("Saved at %1; the changes take effect at the next start.")
                .arg(QDateTime::currentDateTime().toString(QStringLiteral("HH:mm:ss"))),
            false);
    } catch (const std::exception& e) {
        log(QStringLiteral("error"),
            tr("Cannot save %1: %2").arg(def.name, QString::fromStdString(e.what())));
        details_->showResult(tr("Not saved: %1").arg(QString::fromStdString(e.what())), true);
    }
}

void MainWindow::newVm() {
    NewVmWizard wizard(library_, dataDir_, guest_.demoDisk, this);
    if (wizard.exec() != QDialog::Accepted)
        return;
    log(QStringLiteral("info"), tr("%1 created").arg(wizard.createdName()));
    selectVm(wizard.createdName());
}

void MainWindow::cloneVm() {
    int row = library_.indexOf(selectedVmName());
    if (row < 0)
        return;
    VmDefinition def = library_.at(row);
    bool ok = false;
    QString name =
        QInputDialog::getText(this, tr("Clone %1").arg(def.name), tr("Name of the clone:"),
                              QLineEdit::Normal, library_.uniqueName(def.name + tr(" clone")), &ok);
    if (!ok)
        return;
    if (QString p = nameProblem(name); !p.isEmpty() || library_.contains(name)) {
        QMessageBox::warning(this, tr("Clone"),
                             p.isEmpty() ? tr("A VM named '%1' exists already").arg(name) : p);
        return;
    }
    QMessageBox ask(QMessageBox::Question, tr("Clone %1").arg(def.name),
                    tr("How should the clone get its disks?"), QMessageBox::Cancel, this);
    QPushButton* copy = ask.addButton(tr("Copy the disks"), QMessageBox::AcceptRole);
    QPushButton* share = ask.addButton(tr("Share them read-only"), QMessageBox::AcceptRole);
    ask.exec();
    if (ask.clickedButton() != copy && ask.clickedButton() != share)
        return;
    cloneSelected(name, ask.clickedButton() == copy);
}

QString MainWindow::cloneRefusedText() const {
    return tr("Clone is disabled while the VM runs: its disks would be copied while the guest "
              "writes them, which is not a point in time. Shut the VM down first.");
}

JobProgress* MainWindow::cloneSelected(const QString& name, bool copyDisks) {
    int row = library_.indexOf(selectedVmName());
    if (row < 0)
        return nullptr;
    if (VmSession* s = selectedSession(); s && s->isActive()) {
        log(QStringLiteral("warning"), cloneRefusedText());
        return nullptr;
    }
    const VmDefinition& def = library_.at(row);
    VmDefinition clone = def;
    clone.name = name;
    clone.uuid = QUuid::createUuid();
    if (!copyDisks) {
        for (VmDisk& d : clone.disks)
            d.readOnly = true;
        addClone(def.name, clone, {});
        return nullptr;
    }
    // Copy the disks on a worker thread: a big disk takes minutes and the window stays usable;
    // the clone joins the library when every copy is complete.
    QDir().mkpath(dataDir_);
    struct DiskCopy {
        std::string source, target, format;
    };
    std::vector<DiskCopy> copies;
    QStringList targets;
    for (int i = 0; i < clone.disks.size(); ++i) {
        VmDisk& d = clone.disks[i];
        QString target =
            QDir(dataDir_).filePath(QStringLiteral("%1-disk%2.%3").arg(name).arg(i).arg(d.format));
        copies.push_back({d.file.toStdString(), target.toStdString(), d.format.toStdString()});
        targets << target;
        d.file = target;
    }
    QString sourceName = def.name;
    return startPanelJob(
        ctx_, this, tr("Clone %1 as %2").arg(sourceName, name),
        [copies, sourceName, name](JobProgress& progress) {
            uint64_t total = 0;
            std::vector<uint64_t> sizes;
            for (const DiskCopy& c : copies) {
                block::OpenOptions ro;
                ro.format = c.format; // the VM's disk format, never probed
                ro.readOnly = true;
                sizes.push_back(block::openImage(c.source, ro)->size());
                total += sizes.back();
            }
            progress.setTotal(total);
            uint64_t base = 0;
            for (size_t i = 0; i < copies.size(); ++i) {
                progress.setStatus(
                    QStringLiteral("Copying %1").arg(QString::fromStdString(copies[i].source)));
                copyImage(
                    copies[i].source, copies[i].target, copies[i].format,
                    [&progress, base](uint64_t done, uint64_t) {
                        progress.setDone(base + done);
                        progress.throwIfCancelled();
                        return true;
                    },
                    copies[i].format);
                base += sizes[i];
            }
            return QStringLiteral("%1 cloned as %2").arg(sourceName, name);
        },
        [this, sourceName, clone, targets](bool copied, const QString&) {
            if (copied)
                addClone(sourceName, clone, targets);
            else
                removeFiles(targets);
        });
}

void MainWindow::removeFiles(const QStringList& files) {
    for (const QString& f : files)
        QFile::remove(f);
}

void MainWindow::addClone(const QString& sourceName, const VmDefinition& clone,
                          const QStringList& createdFiles) {
    try {
        library_.add(clone);
    } catch (const std::exception& e) {
        removeFiles(createdFiles);
        QMessageBox::warning(this, tr("Clone failed"), QString::fromStdString(e.what()));
        return;
    }
    log(QStringLiteral("info"), tr("%1 cloned as %2").arg(sourceName, clone.name));
    selectVm(clone.name);
}

void MainWindow::deleteVm() {
    QString name = selectedVmName();
    int row = library_.indexOf(name);
    if (row < 0)
        return;
    VmSession* s = selectedSession();
    if (s && s->isActive()) {
        QMessageBox::information(this, tr("Delete"), tr("Shut %1 down first.").arg(name));
        return;
    }
    VmDefinition def = library_.at(row);
    QMessageBox ask(QMessageBox::Question, tr("Delete %1").arg(name),
                    tr("Delete the VM '%1'? Its disk files can be kept or deleted too:\n%2")
                        .arg(name, diskFiles(def).join(QLatin1Char('\n'))),
                    QMessageBox::Cancel, this);
    QPushButton* keep = ask.addButton(tr("Delete VM, keep disks"), QMessageBox::AcceptRole);
    QPushButton* all = ask.addButton(tr("Delete VM and disk files"), QMessageBox::DestructiveRole);
    ask.exec();
    if (ask.clickedButton() != keep && ask.clickedButton() != all)
        return;
    if (s) {
        if (attached_ == s) {
            console_->detach();
            attached_ = nullptr;
            emit selectedSessionChanged(nullptr);
        }
        sessions_.erase(name);
        delete s;
    }
    try {
        if (ask.clickedButton() == all) {
            for (const VmDisk& d : def.disks) {
                // Another VM may use the same file: keep it then.
                bool shared = false;
                for (int i = 0; i < library_.count(); ++i)
                    if (i != row && diskFiles(library_.at(i)).contains(d.file))
                        shared = true;
                if (shared) {
                    log(QStringLiteral("warning"),
                        tr("%1 is used by another VM; not deleted").arg(d.file));
                    continue;
                }
                if (auto node = ctx_.nodes->findByFile(d.file.toStdString()))
                    ctx_.nodes->remove(node->name); // throws if an export still uses it
                if (QFile::exists(d.file) && !QFile::remove(d.file))
                    log(QStringLiteral("warning"), tr("%1: cannot delete").arg(d.file));
            }
        }
        library_.remove(row);
    } catch (const std::exception& e) {
        QMessageBox::warning(this, tr("Delete failed"), QString::fromStdString(e.what()));
        return;
    }
    log(QStringLiteral("info"), tr("%1 deleted").arg(name));
    if (library_.count() > 0)
        list_->setCurrentIndex(library_.index(0));
    onSelectionChanged();
}

void MainWindow::refreshStatus() {
    for (auto& [name, s] : sessions_) {
        if (std::shared_ptr<const emu::FrameImage> f = s->display().latest()) {
            QImage image(reinterpret_cast<const uchar*>(f->pixels.data()), f->width, f->height,
                         f->width * 4, QImage::Format_RGB32);
            library_.setThumbnail(
                name, image.scaled(128, 96, Qt::KeepAspectRatio, Qt::SmoothTransformation));
        }
    }
    VmSession* s = selectedSession();
    if (s) {
        uint64_t now = s->bytesWritten();
        uint64_t& last = lastWritten_[s->definition().name];
        diskLabel_->setText(tr("Disk: %1 written").arg(humanRate(double(now - last))));
        last = now;
    } else {
        diskLabel_->setText(tr("Disk: idle"));
    }
    if (ctx_.exports && ctx_.exports->running())
        nbdLabel_->setText(tr("NBD clients: %1").arg(ctx_.exports->connectedClients()));
    else
        nbdLabel_->setText(tr("NBD: off"));
    updateActions();
}

void MainWindow::closeEvent(QCloseEvent* event) {
    bool anyRunning = false;
    for (auto& [name, s] : sessions_)
        anyRunning = anyRunning || s->isActive();
    if (anyRunning && isVisible() && !property("noConfirm").toBool()) {
        auto answer = QMessageBox::question(
            this, tr("Quit"),
            tr("Running VMs will be shut down (disks and bitmaps stored). Quit?"));
        if (answer != QMessageBox::Yes) {
            event->ignore();
            return;
        }
    }
    console_->detach();
    attached_ = nullptr;
    emit selectedSessionChanged(nullptr);
    for (auto& [name, s] : sessions_) {
        try {
            if (s->isActive())
                s->shutDown();
        } catch (const std::exception& e) {
            std::fprintf(stderr, "e2kvm: %s: %s\n", qPrintable(name), e.what());
        }
    }
    event->accept();
}

} // namespace e2kvm::ui
