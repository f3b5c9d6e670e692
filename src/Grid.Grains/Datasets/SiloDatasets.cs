using System.Collections.Concurrent;
using Grid.Contracts.Runs;
using Grid.Core.Settings;
using Grid.Hosting.Weights;
using Grid.Tasks.Datasets;
using Grid.Training.Data;
using Microsoft.Extensions.Logging;

namespace Grid.Grains.Datasets;

/// <summary>
/// A silo's copies of the datasets runs published through the cluster's store (<see cref="RunDataset"/>). Each archive is
/// downloaded once per silo, checked against its sha256 (by the store's read), unpacked into
/// <c>cache/SHA256/</c> (through a temporary folder renamed when complete, so a half-written copy is never used) and kept
/// there for later runs, silo restarts included. The prompt groups and learner of a run on the silo share one download
/// and one read of the records (<see cref="LoadAsync"/>); a download or read that fails is forgotten, so the next attempt
/// tries again. Every failure is a <see cref="DatasetUnavailableException"/> naming the dataset and the fix.
/// </summary>
public sealed class SiloDatasets
{
    /// <summary>The file that marks a cache folder complete.</summary>
    public const string CompleteMarker = ".complete";

    private readonly IWeightStore _store;
    private readonly ILogger? _logger;
    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<DataKey, Lazy<Task<RunData>>> _data = new();
    private int _downloads;

    /// <summary>A cache in <paramref name="cacheFolder"/> (created when missing) over the cluster's store.</summary>
    public SiloDatasets(IWeightStore store, string cacheFolder, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentException.ThrowIfNullOrWhiteSpace(cacheFolder);
        _store = store;
        _logger = logger;
        CacheFolder = Path.GetFullPath(cacheFolder);
    }

    /// <summary>The folder holding one sub-folder per dataset archive, named by its sha256.</summary>
    public string CacheFolder { get; }

    /// <summary>Archives this silo downloaded from the store since it started.</summary>
    public int Downloads => Volatile.Read(ref _downloads);

    /// <summary>
    /// The run's data as <see cref="RunData.For"/> reads it, from this silo's copies of the published files: the train
    /// part in file order after the split, the eval part, the byte-fallback tokenizer.
    /// </summary>
    /// <exception cref="DatasetUnavailableException">An archive cannot be fetched or verified, or its records read.</exception>
    public Task<RunData> LoadAsync(RunSettings settings, RunDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(dataset);
        var key = new DataKey(dataset.Train.Sha256, dataset.Eval?.Sha256,
            settings.Data with { Train = null, Eval = null }, settings.MaxNewTokens);
        return Shared(_data, key, () => ReadAsync(settings, dataset));
    }

    /// <summary>The local path of the published JSONL, downloading and unpacking its archive on first use.</summary>
    /// <exception cref="DatasetUnavailableException">The archive is missing, damaged or cannot be unpacked.</exception>
    public Task<string> FetchAsync(PublishedDataset published)
    {
        ArgumentNullException.ThrowIfNull(published);
        return Shared(_files, published.Sha256, () => Task.Run(() => DownloadAsync(published)));
    }

    private async Task<RunData> ReadAsync(RunSettings settings, RunDataset dataset)
    {
        string train = await FetchAsync(dataset.Train).ConfigureAwait(false);
        string? eval = dataset.Eval is { } published ? await FetchAsync(published).ConfigureAwait(false) : null;
        var local = settings with { Data = settings.Data with { Train = train, Eval = eval } };
        return await Task.Run(() =>
        {
            RunData data;
            try
            {
                data = RunData.For(local);
            }
            catch (Exception error) when (error is DatasetFormatException or IOException or UnauthorizedAccessException)
            {
                throw new DatasetUnavailableException(
                    $"The dataset {dataset.Train.FileName} (sha256 {dataset.Train.Sha256}) cannot be read on this silo from "
                    + $"its copy in {CacheFolder}: {error.Message} The client read it before publishing, so the copy or the "
                    + $"silo's disk is damaged: delete {Path.GetDirectoryName(train)} and the silo downloads it again.", error);
            }

            int count = ((DatasetTask)data.TrainTask).Examples.Count;
            if (count != dataset.TrainExamples || data.TrainTask.Name != dataset.TrainTask)
            {
                throw new DatasetUnavailableException(
                    $"The dataset {dataset.Train.FileName} (sha256 {dataset.Train.Sha256}) gives {count} train examples of "
                    + $"task \"{data.TrainTask.Name}\" on this silo, but the client counted {dataset.TrainExamples} of "
                    + $"\"{dataset.TrainTask}\": the silo runs another version of Grid than the client. Run one version "
                    + "on every silo and client.");
            }

            return data;
        }).ConfigureAwait(false);
    }

    private async Task<string> DownloadAsync(PublishedDataset published)
    {
        string sha = published.Sha256;
        string final = Path.Combine(CacheFolder, sha);
        string jsonl = Path.Combine(final, published.FileName);
        if (!IsPlainName(published.FileName) || sha.Length != 64 || !sha.All(char.IsAsciiHexDigitLower))
        {
            throw new DatasetUnavailableException(
                $"The run names the dataset \"{published.FileName}\" with sha256 \"{sha}\"; a dataset is a plain file name "
                + "and a lowercase hex sha256. Submit the run again with grid submit.");
        }

        if (File.Exists(Path.Combine(final, CompleteMarker)))
        {
            return jsonl; // downloaded and checked before (by this silo or an earlier run of it)
        }

        byte[] archive;
        try
        {
            archive = await _store.ReadAsync(published.Archive).ConfigureAwait(false);
        }
        catch (FileNotFoundException error)
        {
            throw new DatasetUnavailableException(
                $"The dataset {published.FileName} (sha256 {sha}) is missing from the cluster's store at "
                + $"{published.Archive.Uri}: {error.Message} Submit the run again (grid submit publishes it anew), and check "
                + "that every silo and the client use the same store.", error);
        }
        catch (WeightIntegrityException error)
        {
            throw new DatasetUnavailableException(
                $"The dataset {published.FileName} downloaded from {published.Archive.Uri} has sha256 {error.ActualSha256}, "
                + $"not the {sha} the run names: it was changed or damaged in the store. Submit the run again to publish it anew.",
                error);
        }
        catch (Exception error) when (error is not DatasetUnavailableException)
        {
            throw new DatasetUnavailableException(
                $"The dataset {published.FileName} (sha256 {sha}) cannot be fetched from the cluster's store at "
                + $"{published.Archive.Uri}: {error.Message}", error);
        }

        // The store checked the bytes against the archive's sha256 (IWeightStore.ReadAsync), which is the dataset's name.
        Directory.CreateDirectory(CacheFolder);
        string temp = Path.Combine(CacheFolder, $".tmp-{Guid.NewGuid():N}");
        try
        {
            string unpacked;
            using (var stream = new MemoryStream(archive, writable: false))
            {
                unpacked = DatasetPack.Unpack(stream, temp);
            }

            if (Path.GetFileName(unpacked) != published.FileName)
            {
                throw new InvalidDataException(
                    $"its first file is {Path.GetFileName(unpacked)}, not the dataset file {published.FileName}");
            }

            File.WriteAllText(Path.Combine(temp, CompleteMarker), sha + Environment.NewLine);
            try
            {
                Directory.Move(temp, final);
            }
            catch (IOException) when (File.Exists(Path.Combine(final, CompleteMarker)))
            {
                // another process of this machine sharing the cache put the same archive there first
            }
        }
        catch (Exception error) when (error is InvalidDataException or FormatException)
        {
            throw new DatasetUnavailableException(
                $"The dataset {published.FileName} (sha256 {sha}) cannot be unpacked: {error.Message}. Submit the run again "
                + "with this version of Grid.", error);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new DatasetUnavailableException(
                $"The dataset {published.FileName} (sha256 {sha}) cannot be written to this silo's dataset cache "
                + $"{CacheFolder}: {error.Message} Give the silo a writable cache folder with room for it (Grid:DatasetCache).",
                error);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }

        Interlocked.Increment(ref _downloads);
        _logger?.LogInformation("Dataset {File} (sha256 {Sha256}, {Bytes} bytes) downloaded into {Folder}",
            published.FileName, sha, archive.Length, final);
        return jsonl;
    }

    private static bool IsPlainName(string name) =>
        name.Length is > 0 and <= 255 && name == Path.GetFileName(name) && name is not ("." or "..")
        && !name.Contains('\\', StringComparison.Ordinal) && !name.StartsWith('.');

    /// <summary>One task per key for every caller; a failed task is dropped, so the next caller starts afresh.</summary>
    private static Task<T> Shared<TKey, T>(ConcurrentDictionary<TKey, Lazy<Task<T>>> tasks, TKey key, Func<Task<T>> start)
        where TKey : notnull
    {
        var lazy = tasks.GetOrAdd(key, _ => new Lazy<Task<T>>(start));
        var task = lazy.Value;
        if (task.IsFaulted || task.IsCanceled)
        {
            tasks.TryRemove(new KeyValuePair<TKey, Lazy<Task<T>>>(key, lazy));
            return task;
        }

        _ = task.ContinueWith(t => tasks.TryRemove(new KeyValuePair<TKey, Lazy<Task<T>>>(key, lazy)),
            CancellationToken.None, TaskContinuationOptions.NotOnRanToCompletion, TaskScheduler.Default);
        return task;
    }

    private sealed record DataKey(string Train, string? Eval, DataSettings Data, int MaxNewTokens);
}
