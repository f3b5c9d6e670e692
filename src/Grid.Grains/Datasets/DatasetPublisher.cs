using System.Collections.Concurrent;
using Grid.Contracts.Runs;
using Grid.Core.Settings;
using Grid.Hosting.Weights;
using Grid.Tasks.Datasets;
using Grid.Training.Data;

namespace Grid.Grains.Datasets;

/// <summary>
/// The client's side of a run on its own data on a cluster (<c>grid submit</c>, <c>grid experiment</c>): packs each
/// dataset file with its images (<see cref="DatasetPack"/>) and writes the archive through the cluster's store as an
/// object of the run (kind <c>dataset</c>), where the silos fetch it by the reference and check its sha256. One publisher
/// uploads an archive once: the runs of an experiment on one dataset share it.
/// </summary>
public sealed class DatasetPublisher(IWeightStore store)
{
    /// <summary>The object kind of dataset archives in the store.</summary>
    public const string Kind = "dataset";

    /// <summary>The largest archive a silo takes: it downloads one into memory before unpacking it.</summary>
    public const long MaxArchiveBytes = 2_000_000_000;

    private readonly ConcurrentDictionary<string, PublishedDataset> _published = new(StringComparer.Ordinal);

    /// <summary>Archives this publisher uploaded (not those it found uploaded already).</summary>
    public int Uploads { get; private set; }

    /// <summary>
    /// Publishes the files of the run's <c>data</c> settings; <paramref name="data"/> is the run's data as the client read
    /// it (its train task and count address the examples).
    /// </summary>
    public async Task<RunDataset> PublishAsync(string runId, RunSettings settings, RunData data,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        var d = settings.Data;
        if (!d.IsSet || data.TrainTask is not DatasetTask train)
        {
            throw new ArgumentException("The run has no data.train to publish.", nameof(settings));
        }

        var options = RunData.ReadOptions(d);
        var trainFile = await PublishFileAsync(runId, d.Train!, options, cancellationToken).ConfigureAwait(false);
        var evalFile = d.Eval is null ? null : await PublishFileAsync(runId, d.Eval, options, cancellationToken).ConfigureAwait(false);
        return new RunDataset(trainFile, evalFile, train.Name, train.Examples.Count);
    }

    private async Task<PublishedDataset> PublishFileAsync(string runId, string jsonl, DatasetReadOptions options,
        CancellationToken cancellationToken)
    {
        string temp = Path.Combine(Path.GetTempPath(), $"grid-dataset-{Guid.NewGuid():N}.tar");
        try
        {
            string sha;
            long bytes;
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                (sha, bytes) = DatasetPack.Write(jsonl, options, output);
            }

            if (bytes > MaxArchiveBytes)
            {
                throw new DatasetFormatException(jsonl, 1, $"the file with its images packs to {bytes} bytes; a cluster run "
                    + $"takes a dataset file of at most {MaxArchiveBytes} bytes with its images. Split it into several runs' "
                    + "files, or scale the images down (the policy reads 48 x 48).");
            }

            if (_published.TryGetValue(sha, out var known))
            {
                return known;
            }

            await using var content = new FileStream(temp, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var reference = await store.WriteObjectAsync(runId, 0, Kind, content, cancellationToken).ConfigureAwait(false);
            if (reference.Sha256 != sha)
            {
                throw new IOException($"The store recorded sha256 {reference.Sha256} for the archive of {jsonl}, which "
                    + $"hashes to {sha}: the file changed while it was published. Submit again once it is complete.");
            }

            Uploads++;
            return _published[sha] = new PublishedDataset(reference, Path.GetFileName(Path.GetFullPath(jsonl)), bytes);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
