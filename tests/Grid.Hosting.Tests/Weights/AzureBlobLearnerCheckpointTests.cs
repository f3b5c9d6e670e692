using Azure.Storage.Blobs;
using Grid.Core;
using Grid.Hosting.Tests.Infrastructure;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

public sealed class AzureBlobLearnerCheckpointTests(AzuriteFixture azurite)
    : LearnerCheckpointStoreSpecification, IClassFixture<AzuriteFixture>
{
    private static readonly string ContainerName = $"checkpoints-{Guid.NewGuid():N}"[..30];
    private readonly AzureBlobWeightStore _store = new(azurite.ConnectionString, ContainerName);

    protected override IWeightStore Store => _store;

    protected override Task TruncateAsync(WeightReference reference) => Truncate(new BlobUriBuilder(reference.Uri).BlobName);

    protected override Task TruncateRecordAsync(string runId, string name) => Truncate($"{runId}/records/{name}");

    private async Task Truncate(string blobName)
    {
        var blob = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient(ContainerName).GetBlobClient(blobName);
        byte[] bytes = (await blob.DownloadContentAsync()).Value.Content.ToArray();
        await blob.UploadAsync(BinaryData.FromBytes(bytes[..(bytes.Length / 2)]), overwrite: true);
    }
}
