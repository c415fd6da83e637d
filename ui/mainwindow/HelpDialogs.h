#pragma once
// HelpDialogs: what the Help menu shows: About e2kvm (name, version, what it is for, license,
// Qt version) and the documentation (the README, rendered from Markdown). Both open without
// blocking (window-modal) and delete themselves when closed.
#include <QString>

class QDialog;
class QMessageBox;
class QWidget;

namespace e2kvm::ui {

// The About text (rich text): program name and version, a short description, the license
// line and the Qt version built with and running.
QString aboutText();
// The README the Documentation entry shows: the source tree's, else the installed copy; empty
// when neither exists.
QString readmePath();

// Opens About e2kvm over `parent` (object name "aboutBox").
QMessageBox* openAbout(QWidget* parent);
// Opens the README over `parent` (object name "documentationDialog"); null, after saying where
// it looked, when there is no README.
QDialog* openDocumentation(QWidget* parent);

} // namespace e2kvm::ui
