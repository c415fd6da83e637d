#pragma once
// ExportsPanel: the exports tab of the main window (first version; filled in below).
#include <QStringList>
#include <QWidget>

namespace e2kvm::ui {

struct AppContext;

class ExportsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ExportsPanel(AppContext& context, QWidget* parent = nullptr);

public slots:
    void setImages(const QStringList& files);
    void setVmRunning(bool running);

private:
    AppContext& context_;
    QStringList vmImages_;
    bool vmRunning_ = false;
};

} // namespace e2kvm::ui
