using System.Net;
using System.Net.Sockets;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>
/// Weight store in an Azure Blob container (Azurite in development): <c>runId/v…-guid.bin</c> block blobs, which
/// become visible only when their upload commits, plus a <c>runId/latest.json</c> pointer switched with an ETag
/// condition so concurrent publishers never move it backwards. The SDK's own retries are off; this class retries
/// transient errors with <see cref="WeightStoreRetryOptions"/> so the budget is in one place.
/// </summary>
public sealed class AzureBlobWeightStore : IWeightStore
{
    private readonly BlobContainerClient _container;
    private readonly WeightStoreRetryOptions _retry;
    private readonly SemaphoreSlim _containerCreation = new(1, 1);
    private volatile bool _containerExists;

    /// <summary>Creates the store over a container client (the container is created on first publish).</summary>
    public AzureBlobWeightStore(BlobContainerClient container, WeightStoreRetryOptions? retry = null)
    {
        _container = container ?? throw new ArgumentNullException(nameof(container));
        _retry = (retry ?? WeightStoreRetryOptions.Default).Validate();
    }

    /// <summary>Creates the store from a connection string (never logged) and a container name.</summary>
    public AzureBlobWeightStore(string connectionString, string containerName, WeightStoreRetryOptions? retry = null)
        : this(CreateContainerClient(connectionString, containerName), retry)
    {
    }

    /// <summary>The container URI (no credentials in it).</summary>
    public Uri ContainerUri => _container.Uri;

    /// <inheritdoc />
    public Task<WeightReference> PublishAsync(
        string runId, long version, Stream content, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, version);
        ArgumentNullException.ThrowIfNull(content);
        return TransientRetry.RunWritingAsync(
            _retry,
            $"Publishing version {version} of run '{runId}' to {_container.Uri}",
            IsTransient,
            content,
            async ct =>
            {
                await EnsureContainerAsync(ct).ConfigureAwait(false);
                var reference = await UploadObjectAsync(WeightNames.NewObjectName(runId, version), version, content, ct)
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
            $"Writing the {kind} of version {version} of run '{runId}' to {_container.Uri}",
            IsTransient,
            content,
            async ct =>
            {
                await EnsureContainerAsync(ct).ConfigureAwait(false);
                return await UploadObjectAsync(WeightNames.NewObjectName(runId, version, kind), version, content, ct)
                    .ConfigureAwait(false);
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task WriteRecordAsync(
        string runId, string name, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        WeightNames.ValidateName(name, nameof(name));
        var blob = _container.GetBlobClient(WeightNames.RecordName(runId, name));
        var data = BinaryData.FromBytes(content);
        return TransientRetry.RunAsync(
            _retry,
            $"Writing record {blob.Uri}",
            IsTransient,
            async (_, ct) =>
            {
                await EnsureContainerAsync(ct).ConfigureAwait(false);
                // One block blob upload: it commits whole or not at all, so readers see the old record or the new one.
                await blob.UploadAsync(data, overwrite: true, ct).ConfigureAwait(false);
                return true;
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<byte[]?> ReadRecordAsync(string runId, string name, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        WeightNames.ValidateName(name, nameof(name));
        var blob = _container.GetBlobClient(WeightNames.RecordName(runId, name));
        return TransientRetry.RunAsync<byte[]?>(
            _retry,
            $"Reading record {blob.Uri}",
            IsTransient,
            async (_, ct) =>
            {
                try
                {
                    return (await blob.DownloadContentAsync(ct).ConfigureAwait(false)).Value.Content.ToArray();
                }
                catch (RequestFailedException error) when (error.Status == (int)HttpStatusCode.NotFound)
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
        var blob = _container.GetBlobClient(BlobNameOf(reference.Uri));
        return TransientRetry.RunAsync(
            _retry,
            $"Reading {reference.Uri}",
            IsTransient,
            async (_, ct) =>
            {
                BlobDownloadResult download;
                try
                {
                    download = (await blob.DownloadContentAsync(ct).ConfigureAwait(false)).Value;
                }
                catch (RequestFailedException error) when (error.Status == (int)HttpStatusCode.NotFound)
                {
                    throw new FileNotFoundException(
                        $"Weights {reference.Uri} (version {reference.Version}) are missing from container "
                        + $"{_container.Uri}; they were deleted or belong to another storage account.", error);
                }

                return WeightIntegrityException.Verified(reference, download.Content.ToArray());
            },
            cancellationToken);
    }

    /// <inheritdoc />
    public Task<WeightReference?> GetLatestAsync(string runId, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        return TransientRetry.RunAsync(
            _retry,
            $"Reading the latest pointer of run '{runId}' in {_container.Uri}",
            IsTransient,
            async (_, ct) => (await ReadPointerAsync(runId, ct).ConfigureAwait(false)).Pointer?.ToReference(),
            cancellationToken);
    }

    /// <inheritdoc />
    public Task DeleteObjectAsync(WeightReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        return DeleteBlobAsync(_container.GetBlobClient(BlobNameOf(reference.Uri)), cancellationToken);
    }

    /// <inheritdoc />
    public Task DeleteRecordAsync(string runId, string name, CancellationToken cancellationToken = default)
    {
        WeightNames.Validate(runId, 0);
        WeightNames.ValidateName(name, nameof(name));
        return DeleteBlobAsync(_container.GetBlobClient(WeightNames.RecordName(runId, name)), cancellationToken);
    }

    private Task DeleteBlobAsync(BlobClient blob, CancellationToken cancellationToken) =>
        TransientRetry.RunAsync(_retry, $"Deleting {blob.Uri}", IsTransient,
            async (_, ct) => (await blob.DeleteIfExistsAsync(cancellationToken: ct).ConfigureAwait(false)).Value,
            cancellationToken);

    private async Task<WeightReference> UploadObjectAsync(
        string name, long version, Stream content, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(name);
        using var hashing = new HashingReadStream(content);
        await blob.UploadAsync(
            hashing,
            new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/octet-stream" },
            },
            cancellationToken).ConfigureAwait(false);
        string sha256 = hashing.FinishSha256();
        return new WeightReference(blob.Uri, version, sha256);
    }

    private async Task MovePointerAsync(string runId, WeightReference reference, CancellationToken cancellationToken)
    {
        var pointerBlob = _container.GetBlobClient(WeightNames.PointerName(runId));
        var json = BinaryData.FromBytes(LatestPointer.From(runId, reference).ToJson());
        while (true)
        {
            var (current, etag) = await ReadPointerAsync(runId, cancellationToken).ConfigureAwait(false);
            if (current is not null && current.Version > reference.Version)
            {
                return; // never move the pointer back to an older version
            }

            var condition = etag is { } tag
                ? new BlobRequestConditions { IfMatch = tag }
                : new BlobRequestConditions { IfNoneMatch = ETag.All };
            try
            {
                await pointerBlob.UploadAsync(
                    json,
                    new BlobUploadOptions
                    {
                        Conditions = condition,
                        HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
                    },
                    cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (RequestFailedException error) when (error.Status is 409 or 412)
            {
                // another publisher switched the pointer between our read and write: read it again
            }
        }
    }

    private async Task<(LatestPointer? Pointer, ETag? ETag)> ReadPointerAsync(
        string runId, CancellationToken cancellationToken)
    {
        var pointerBlob = _container.GetBlobClient(WeightNames.PointerName(runId));
        try
        {
            var download = (await pointerBlob.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value;
            return (LatestPointer.Parse(download.Content.ToMemory().Span, pointerBlob.Uri.ToString()),
                download.Details.ETag);
        }
        catch (RequestFailedException error) when (error.Status == (int)HttpStatusCode.NotFound)
        {
            return (null, null);
        }
    }

    private async Task EnsureContainerAsync(CancellationToken cancellationToken)
    {
        if (_containerExists)
        {
            return;
        }

        await _containerCreation.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_containerExists)
            {
                await _container.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
                _containerExists = true;
            }
        }
        finally
        {
            _containerCreation.Release();
        }
    }

    private string BlobNameOf(Uri uri)
    {
        var parts = new BlobUriBuilder(uri);
        if (!string.Equals(parts.BlobContainerName, _container.Name, StringComparison.Ordinal)
            || string.IsNullOrEmpty(parts.BlobName))
        {
            throw new ArgumentException(
                $"Weight reference {uri} is not a blob in this store's container {_container.Uri}; read it with "
                + "the store that published it (a file:// reference needs LocalFolderWeightStore).", nameof(uri));
        }

        return parts.BlobName;
    }

    private static BlobContainerClient CreateContainerClient(string connectionString, string containerName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(containerName);
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 0; // TransientRetry owns the retry budget
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(100);
        return new BlobServiceClient(connectionString, options).GetBlobContainerClient(containerName);
    }

    private static bool IsTransient(Exception error) => error switch
    {
        RequestFailedException failed => failed.Status is 0 or 408 or 429 or 500 or 502 or 503 or 504,
        HttpRequestException or SocketException or IOException => error is not FileNotFoundException,
        TimeoutException => true,
        OperationCanceledException => true, // a network timeout; a caller's cancellation is never retried
        AggregateException aggregate => aggregate.InnerExceptions.All(IsTransient),
        _ => false,
    };
}
