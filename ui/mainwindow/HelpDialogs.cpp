#include "ui/mainwindow/HelpDialogs.h"

#include <QApplication>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFile>
#include <QFileInfo>
#include <QIcon>
#include <QMessageBox>
#include <QTextBrowser>
#include <QUrl>
#include <QVBoxLayout>

namespace e2kvm::ui {

namespace {
const char* const kReadmeCandidates[] = {E2KVM_SOURCE_README, E2KVM_INSTALL_README};
} // namespace

QString aboutText() {
    return QApplication::translate("HelpDialogs",
                                   "<h3>e2kvm %1</h3>"
                                   "<p>A desktop manager of Elbrus 2000 (E2K) virtual machines, "
                                   "built around incremental disk backup: guest writes mark "
                                   "persistent dirty bitmaps, and a disk is served over NBD with "
                                   "its bitmaps so that standard backup clients copy only what "
                                   "changed. Its images, tools and QMP interoperate with QEMU "
                                   "7.2's.</p>"
                                   "<p>License: none chosen yet; all rights reserved by the "
                                   "authors.</p>"
                                   "<p>Built with Qt %2, running on Qt %3.</p>")
        .arg(QStringLiteral(E2KVM_VERSION), QStringLiteral(QT_VERSION_STR),
             QString::fromLatin1(qVersion()));
}

QString readmePath() {
    for (const char* candidate : kReadmeCandidates)
        if (QFileInfo(QString::fromUtf8(candidate)).isFile())
            return QString::fromUtf8(candidate);
    return {};
}

QMessageBox* openAbout(QWidget* parent) {
    auto* box = new QMessageBox(parent);
    box->setObjectName(QStringLiteral("aboutBox"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setWindowTitle(QApplication::translate("HelpDialogs", "About e2kvm"));
    box->setTextFormat(Qt::RichText);
    box->setText(aboutText());
    const QIcon icon = QApplication::windowIcon();
    if (!icon.isNull())
        box->setIconPixmap(icon.pixmap(64, 64));
    box->setStandardButtons(QMessageBox::Close);
    box->open();
    return box;
}

QDialog* openDocumentation(QWidget* parent) {
    const QString path = readmePath();
    QFile file(path);
    if (path.isEmpty() || !file.open(QIODevice::ReadOnly)) {
        QStringList looked;
        for (const char* candidate : kReadmeCandidates)
            looked << QString::fromUtf8(candidate);
        auto* box = new QMessageBox(
            QMessageBox::Information, QApplication::translate("HelpDialogs", "Documentation"),
            QApplication::translate("HelpDialogs", "No README found; looked at:\n%1")
                .arg(looked.join(QLatin1Char('\n'))),
            QMessageBox::Close, parent);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
        return nullptr;
    }
    auto* dialog = new QDialog(parent);
    dialog->setObjectName(QStringLiteral("documentationDialog"));
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setWindowTitle(QApplication::translate("HelpDialogs", "e2kvm documentation — %1")
                               .arg(QFileInfo(path).fileName()));
    auto* text = new QTextBrowser(dialog);
    text->setOpenExternalLinks(true);
    // As a source, so that its links to docs/*.md open in the same window.
    text->setSource(QUrl::fromLocalFile(QFileInfo(path).absoluteFilePath()),
                    QTextDocument::MarkdownResource);
    text->setToolTip(path);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
    QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    auto* layout = new QVBoxLayout(dialog);
    layout->addWidget(text, 1);
    layout->addWidget(buttons);
    dialog->resize(820, 640);
    dialog->show(); // not modal: read while using the window
    return dialog;
}

} // namespace e2kvm::ui
