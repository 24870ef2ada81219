// shmlease: a lease arbiter for processes on one Linux host.
//
// Leases live in a shared-memory table that any process can map; there is no
// daemon. The API follows Juju's core/lease package:
//   - errors.h     the error category, Juju's Err* values and Is* helpers
//   - lease.h      names (ValidateString), Key, Request, Info, namespaces
//   - store.h      the Store interface (Juju's eight operations and a few more)
//   - shm_store.h  ShmStore, the Store on a shared-memory segment
//   - manager.h    Manager, Checker, Claimer, Revoker, Pinner, Reader
//   - token.h      Token, the cheap "do I still hold it?" check
#ifndef SHMLEASE_SHMLEASE_H_
#define SHMLEASE_SHMLEASE_H_

#include "shmlease/errors.h"
#include "shmlease/holding.h"
#include "shmlease/lease.h"
#include "shmlease/manager.h"
#include "shmlease/shm_store.h"
#include "shmlease/store.h"
#include "shmlease/token.h"
#include "shmlease/truncation_guard.h"

#endif  // SHMLEASE_SHMLEASE_H_
