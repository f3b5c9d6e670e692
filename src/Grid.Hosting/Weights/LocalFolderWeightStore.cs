using System.Buffers;
using System.Security.Cryptography;
using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>
/// Weight store in a local folder (embedded mode): <c>root/runId/v…-guid.bin</c> plus <c>root/runId/latest.json</c>.
/// Objects and the pointer are written to a temp file, flushed to disk, then renamed into place (atomic on one
/// file system); the pointer is switched under a lock file, so several processes may share the folder.
/// </summary>
public sealed class LocalFolderWeightStore : IWeightStore
{
    private const int CopyBufferBytes = 1 << 20;
    private readonly string _root;
    private readonly WeightStoreRetryOptions _retry;

    /// <summary>Creates the store; the folder is created when missing.</summary>
    public LocalFolderWeightStore(string root, WeightStoreRetryOptions? retry = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        _root = Path.GetFullPath(root);
        _retry = (retry ?? WeightStoreRetryOptions.Default).Validate();
        Directory.CreateDirectory(_root);
    }

    /// <summary>The folder holding every run's objects.</summary>
    public string Root => _root;

    /// <inheritdoc />
    public Task<WeightReference> PublishAsync(
        string runId, long version, Stream content, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, version);
        ArgumentNullException.ThrowIfNull(content);
        return TransientRetry.RunWritingAsync(
            _retry,
            $"Publishing version {version} of run '{runId}' to {_root}",
            IsTransient,
            content,
            async ct =>
            {
                var reference = await WriteObjectAsync(WeightNames.NewObjectName(runId, version), version, content, ct)
                    .ConfigureAwait(false);
                await MovePointerAsync(runId, reference, ct).ConfigureAwait(false);
                return reference;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<WeightReference> WriteObjectAsync(
        string runId, long version, string kind, Stream content, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, version);
        WeightNames.ValidateName(kind, nameof(kind));
        ArgumentNullException.ThrowIfNull(content);
        return TransientRetry.RunWritingAsync(
            _retry,
            $"Writing the {kind} of version {version} of run '{runId}' to {_root}",
            IsTransient,
            content,
            ct => WriteObjectAsync(WeightNames.NewObjectName(runId, version, kind), version, content, ct),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task WriteRecordAsync(
        string runId, string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        WeightNames.ValidateName(name, nameof(name));
        string path = Path.Combine(_root, WeightNames.RecordName(runId, name));
        return TransientRetry.RunAsync(
            _retry,
            $"Writing record {path}",
            IsTransient,
            async (_, ct) =>
            {
                string folder = Path.GetDirectoryName(path)!;
                Directory.CreateDirectory(folder);
                string temp = Path.Combine(folder, $".tmp-{Guid.NewGuid():N}");
                try
                {
                    await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                    {
                        await output.WriteAsync(content, ct).ConfigureAwait(false);
                        output.Flush(flushToDisk: true);
                    }

                    File.Move(temp, path, overwrite: true); // atomic: the old record or the new one, never part
                    return true;
                }
                finally
                {
                    File.Delete(temp);
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]?> ReadRecordAsync(string runId, string name, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        WeightNames.ValidateName(name, nameof(name));
        string path = Path.Combine(_root, WeightNames.RecordName(runId, name));
        return TransientRetry.RunAsync<byte[]?>(
            _retry,
            $"Reading record {path}",
            IsTransient,
            async (_, ct) =>
            {
                try
                {
                    return await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false);
                }
                catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
                {
                    return null;
                }
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]> ReadAsync(WeightReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        string path = PathOf(reference.Uri);
        return TransientRetry.RunAsync(
            _retry,
            $"Reading {reference.Uri}",
            IsTransient,
            async (_, ct) =>
            {
                if (!File.Exists(path))
                {
                    throw new FileNotFoundException(
                        $"Weights {reference.Uri} (version {reference.Version}) are missing from {_root}; they were "
                        + "deleted or this silo uses another weight folder (GridSiloOptions.WeightFolder).", path);
                }

                return WeightIntegrityException.Verified(reference, await File.ReadAllBytesAsync(path, ct).ConfigureAwait(false));
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<WeightReference?> GetLatestAsync(string runId, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        string pointer = Path.Combine(_root, runId, LatestPointer.FileName);
        return TransientRetry.RunAsync(
            _retry,
            $"Reading the latest pointer of run '{runId}' at {pointer}",
            IsTransient,
            async (_, ct) => (await ReadPointerAsync(pointer, ct).ConfigureAwait(false))?.ToReference(),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task DeleteObjectAsync(WeightReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        File.Delete(PathOf(reference.Uri)); // no error when it is gone already
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DeleteRecordAsync(string runId, string name, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        WeightNames.ValidateName(name, nameof(name));
        File.Delete(Path.Combine(_root, WeightNames.RecordName(runId, name)));
        return Task.CompletedTask;
    }

    private async Task<WeightReference> WriteObjectAsync(
        string name, long version, Stream content, CancellationToken cancellationToken)
    {
        string final = Path.Combine(_root, name);
        string folder = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(folder);
        string temp = Path.Combine(folder, $".tmp-{Guid.NewGuid():N}");
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            // The file stream gets no buffer of its own (bufferSize 1): it writes our pooled 1 MB chunks as they are.
            // Two fresh 1 MB arrays per publish landed on the large object heap and set off a full GC every few steps.
            byte[] buffer = ArrayPool<byte>.Shared.Rent(CopyBufferBytes);
            try
            {
                await using var output = new FileStream(
                    temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, useAsync: true);
                int read;
                while ((read = await content.ReadAsync(buffer.AsMemory(0, CopyBufferBytes), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                }

                output.Flush(flushToDisk: true);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            File.Move(temp, final);
            return new WeightReference(new Uri(new Uri(final).AbsoluteUri), version, Sha256Hex.Of(hash));
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private async Task MovePointerAsync(string runId, WeightReference reference, CancellationToken cancellationToken)
    {
        string folder = Path.Combine(_root, runId);
        string pointer = Path.Combine(folder, LatestPointer.FileName);
        await using var _ = await AcquireLockAsync(Path.Combine(folder, ".latest.lock"), cancellationToken)
            .ConfigureAwait(false);
        var current = await ReadPointerAsync(pointer, cancellationToken).ConfigureAwait(false);
        if (current is not null && current.Version > reference.Version)
        {
            return; // never move the pointer back to an older version
        }

        string temp = Path.Combine(folder, $".tmp-{Guid.NewGuid():N}");
        try
        {
            await File.WriteAllBytesAsync(temp, LatestPointer.From(runId, reference).ToJson(), cancellationToken)
                .ConfigureAwait(false);
            File.Move(temp, pointer, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static async Task<LatestPointer?> ReadPointerAsync(string pointer, CancellationToken cancellationToken)
    {
        try
        {
            byte[] json = await File.ReadAllBytesAsync(pointer, cancellationToken).ConfigureAwait(false);
            return LatestPointer.Parse(json, pointer);
        }
        catch (Exception error) when (error is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private string PathOf(Uri uri)
    {
        string path = uri.IsFile ? Path.GetFullPath(uri.LocalPath) : "";
        if (!path.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"Weight reference {uri} is not a file under this store's folder {_root}; read it with the store "
                + "that published it (a blob reference needs AzureBlobWeightStore).", nameof(uri));
        }

        return path;
    }

    private static bool IsTransient(Exception error) =>
        error is IOException and not (FileNotFoundException or DirectoryNotFoundException);
}
