/* densenet_mpi.h -- data-parallel training over MPI (optional library libdensenet_mpi.a,
 * CMake target densenet::mpi, pkg-config densenet-mpi; needs an MPI library, e.g. Debian's
 * libopenmpi-dev). libdensenet.a itself never depends on MPI.
 *
 * Every process (rank) of the communicator builds and compiles the same model with the same
 * seed, and calls dn_mpi_fit with its own rows (its shard) and the same options. Each training
 * step, every rank runs forward and backward on its part of the global batch; the gradients are
 * summed across ranks (one ring allreduce over the contiguous gradient block, in a fixed order)
 * and the same optimizer step runs on every rank, so all ranks hold the same weights.
 *
 * How rows map to ranks (Keras's distributed fit, with a shard per rank):
 * - .batch_size is the global batch B (0: 32). Of R ranks, rank r trains on b_r = B / R rows
 *   per step, plus one if r < B % R (B >= R is required: DN_ERR_ARG). Step k of an epoch takes
 *   rows k*b_r .. k*b_r + b_r - 1 of the rank's shard in the epoch's order (its own order, or a
 *   shuffle of its own rows).
 * - An epoch has as many steps as the rank that needs the most (ceil(rows_r / b_r)); a rank
 *   whose shard has ended trains on a partial or an empty batch in the steps that remain (Keras
 *   splits the last partial global batch across replicas too).
 * - The gradient of a step is the mean over all rows of that step on all ranks: each rank's mean
 *   gradient is scaled by n_r / N (N = the step's rows on all ranks) before the sum, so the step
 *   equals a single process's step on the union of the rows, within float32 rounding: the
 *   products by n_r / N and the sum in ring order round differently from one sum over N rows
 *   (tests/mpi checks |w_mpi - w_single| <= 1e-4 * (1 + |w|) after a short fit).
 * - validation_split takes the last fraction of each rank's shard; validation_x/y are each
 *   rank's own. Validation, the epoch's loss and the metrics are totals over all ranks' rows.
 * - BatchNormalization normalizes with each rank's own batch statistics (Keras's default,
 *   non-synced BatchNormalization under MirroredStrategy); the moving mean and variance are
 *   then made equal on all ranks: each takes the row-weighted mean of the ranks' updates.
 * - Shuffling: every rank shuffles its own rows, from a stream drawn from the model's shuffle
 *   stream and the rank (so the model's own random state stays the same on all ranks, and a
 *   checkpoint of rank 0 resumes every rank). Dropout masks likewise come from a per-rank
 *   stream drawn each step.
 * - Callbacks run on every rank with the same (reduced) epoch logs, so they decide the same;
 *   a stop (EarlyStopping, TerminateOnNaN, dn_model_stop_training) on any rank stops all at the
 *   same batch or epoch. Batch logs are the rank's own running means.
 * - Only rank 0 prints progress (other ranks run silent) and writes files: CSVLogger and
 *   ModelCheckpoint write nothing on other ranks. To resume, every rank loads rank 0's file
 *   (after a barrier) and calls dn_mpi_fit with .initial_epoch.
 * - Same seed, same ranks and same shards: bit-identical results run to run (the reduction
 *   order is fixed; MPI's own reductions are used only for integers).
 *
 * Failure is an error, never a hang or an abort: every rank agrees on the status at each step
 * (a small allgather), so a rank whose step fails (bad data, a NaN, out of memory) or whose
 * callback fails makes every rank return NULL with the same status from dn_last_status(); the
 * failing rank's message names the cause, and the other ranks get the same message (sent by
 * the failing rank) with " (on rank K of R)" appended. The library never calls
 * MPI_Abort or exits, and leaves the communicator usable. The callbacks lists of all ranks must
 * have the same length and types.
 */
#ifndef DENSENET_MPI_H
#define DENSENET_MPI_H

#include <mpi.h>

#include "densenet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Keras: model.fit under a data-parallel strategy, on communicator comm (MPI initialized by
 * the caller). Options as dn_fit's; .batch_size is the global batch. Returns the history (the
 * same on every rank; the caller frees it) or NULL with dn_last_status() the same on every
 * rank. Errors: as dn_fit, DN_ERR_ARG (batch_size below the ranks, an invalid communicator),
 * DN_ERR_IO (an MPI call failed), and any other rank's failure. Owns the callbacks as dn_fit.
 * Collective: every rank of comm must call it. */
dn_history *dn_mpi_fit_with(MPI_Comm comm, dn_fit_options options);
#define dn_mpi_fit(comm, ...) dn_mpi_fit_with((comm), (dn_fit_options){.model = __VA_ARGS__})

/* Keras: model.fit(dataset) under a data-parallel strategy, each rank with its own dataset
 * (distribute_datasets_from_function): dn_fit_source on communicator comm, each rank passing its
 * own source (its shard) and validation source (or none), with dn_fit_source's options (the
 * same on every rank); .batch_size is the global batch B. The rules of dn_mpi_fit above apply
 * (gradients, ring, BatchNormalization, dropout, callbacks, files, failure), with these for the
 * data:
 * - Rank r asks its source for b_r = B / R rows per step, plus one if r < B % R (the capacity
 *   handed to next), as dn_mpi_fit maps the global batch. The order is the source's.
 * - After each pull the ranks agree (an allgather of status and rows) on whether to go on: the
 *   epoch ends when every rank's source has ended (Keras's distributed iterator ends when no
 *   worker has data; workers out of data meanwhile get empty batches). A rank whose source has
 *   ended is not asked again in that epoch and trains on an empty batch (its rows count 0 in
 *   the n_r / N scaling) while the others go on; so every rank takes the same number of steps.
 * - Steps per epoch: if every rank's source knows its steps, the epoch has the most of any
 *   rank (a rank's source is asked at most its own steps); otherwise the count is learnt from
 *   the first epoch, as dn_fit_source learns it (the same on every rank).
 * - Validation: each rank evaluates its own validation source in batches of b_r rows; the loss
 *   and metrics are totals over all ranks' rows (a rank without a validation source, or whose
 *   source gives no rows, adds none; no rows on any rank is DN_ERR_STATE).
 * - With each rank's source giving, in order, the rows dn_mpi_fit would train it on
 *   (no_shuffle), in batches of b_r rows, the weights are bit-identical to dn_mpi_fit's.
 * - Failure: a failing next or reset on any rank (or a bad class index) makes every rank
 *   return NULL with the same status and the failing rank's message ("dn_mpi_fit_source:
 *   dn_fit_source: epoch E, batch B: ...", batch 0-based), which the other ranks report with
 *   " (on rank K of R)" appended.
 * Errors: as dn_fit_source and dn_mpi_fit, DN_ERR_ARG (NULL source on any rank). Collective. */
dn_history *dn_mpi_fit_source_with(MPI_Comm comm, dn_fit_source_options options);
#define dn_mpi_fit_source(comm, ...)                                                               \
  dn_mpi_fit_source_with((comm), (dn_fit_source_options){.model = __VA_ARGS__})

#ifdef __cplusplus
}
#endif

#endif
