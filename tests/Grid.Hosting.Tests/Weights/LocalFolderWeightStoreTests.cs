using Grid.Core;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

public sealed class LocalFolderWeightStoreTests : WeightStoreSpecification, IDisposable
{
    private readonly LocalFolderWeightStore _store =
        new(Directory.CreateTempSubdirectory("grid-weight-store-").FullName);

    protected override IWeightStore Store => _store;

    protected override Task TamperAsync(WeightReference reference) =>
        File.WriteAllBytesAsync(reference.Uri.LocalPath, Weights(10_000, seed: 3));

    public void Dispose() => Directory.Delete(_store.Root, recursive: true);
}
