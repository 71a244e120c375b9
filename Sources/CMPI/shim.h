// Accessors for the OpenMPI handles and constants that Swift cannot import (they are macros over incomplete
// globals or pointer casts). Nothing but the MPI module includes this header.
#ifndef AIRFOIL_DP_CMPI_SHIM_H
#define AIRFOIL_DP_CMPI_SHIM_H

#include <mpi.h>

static inline MPI_Comm _Nonnull cmpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype _Nonnull cmpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype _Nonnull cmpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype _Nonnull cmpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype _Nonnull cmpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Datatype _Nonnull cmpi_byte(void) { return MPI_BYTE; }
static inline MPI_Op _Nonnull cmpi_sum(void) { return MPI_SUM; }
static inline MPI_Op _Nonnull cmpi_min(void) { return MPI_MIN; }
static inline MPI_Op _Nonnull cmpi_max(void) { return MPI_MAX; }
static inline void * _Nonnull cmpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler _Nonnull cmpi_errors_return(void) { return MPI_ERRORS_RETURN; }

#endif
