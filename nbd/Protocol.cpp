#include "nbd/Protocol.h"

#include <cerrno>

namespace e2kvm::nbd {

uint32_t errnoToWire(int err) {
    switch (err) {
    case 0:
        return 0;
    case EPERM:
    case EROFS:
        return NbdEperm;
    case EIO:
        return NbdEio;
    case ENOMEM:
        return NbdEnomem;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return NbdEnospc;
    case EOVERFLOW:
        return NbdEoverflow;
    case ENOTSUP:
        return NbdEnotsup;
    case ESHUTDOWN:
        return NbdEshutdown;
    default:
        return NbdEinval;
    }
}

int wireToErrno(uint32_t value) {
    switch (value) {
    case NbdEperm:
        return EPERM;
    case NbdEio:
        return EIO;
    case NbdEnomem:
        return ENOMEM;
    case NbdEnospc:
        return ENOSPC;
    case NbdEoverflow:
        return EOVERFLOW;
    case NbdEnotsup:
        return ENOTSUP;
    case NbdEshutdown:
        return ESHUTDOWN;
    default:
        return EINVAL;
    }
}

const char* commandName(uint16_t type) {
    switch (type) {
    case CmdRead:
        return "read";
    case CmdWrite:
        return "write";
    case CmdDisc:
        return "disconnect";
    case CmdFlush:
        return "flush";
    case CmdTrim:
        return "trim";
    case CmdCache:
        return "cache";
    case CmdWriteZeroes:
        return "write zeroes";
    case CmdBlockStatus:
        return "block status";
    default:
        return "<unknown>";
    }
}

const char* optionName(uint32_t option) {
    switch (option) {
    case OptExportName:
        return "export name";
    case OptAbort:
        return "abort";
    case OptList:
        return "list";
    case OptPeekExport:
        return "peek export";
    case OptStartTls:
        return "starttls";
    case OptInfo:
        return "info";
    case OptGo:
        return "go";
    case OptStructuredReply:
        return "structured reply";
    case OptListMetaContext:
        return "list meta context";
    case OptSetMetaContext:
        return "set meta context";
    case OptExtendedHeaders:
        return "extended headers";
    default:
        return "<unknown>";
    }
}

} // namespace e2kvm::nbd
