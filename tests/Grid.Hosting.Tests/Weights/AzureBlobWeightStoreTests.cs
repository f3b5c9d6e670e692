using Azure.Storage.Blobs;
using Grid.Core;
using Grid.Hosting.Tests.Infrastructure;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

public sealed class AzureBlobWeightStoreTests(AzuriteFixture azurite)
    : WeightStoreSpecification, IClassFixture<AzuriteFixture>
{
    private static readonly string ContainerName = $"weights-{Guid.NewGuid():N}"[..30];
    private readonly AzureBlobWeightStore _store = new(azurite.ConnectionString, ContainerName);

    protected override IWeightStore Store => _store;

    protected override Task TamperAsync(WeightReference reference)
    {
        var blob = new BlobServiceClient(azurite.ConnectionString)
            .GetBlobContainerClient(ContainerName)
            .GetBlobClient(new BlobUriBuilder(reference.Uri).BlobName);
        return blob.UploadAsync(BinaryData.FromBytes(Weights(10_000, seed: 3)), overwrite: true);
    }
}
