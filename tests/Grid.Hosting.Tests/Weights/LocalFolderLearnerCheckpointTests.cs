using Grid.Core;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

public sealed class LocalFolderLearnerCheckpointTests : LearnerCheckpointStoreSpecification, IDisposable
{
    private readonly LocalFolderWeightStore _store = new(Directory.CreateTempSubdirectory("grid-checkpoints-").FullName);

    protected override IWeightStore Store => _store;

    protected override Task TruncateAsync(WeightReference reference) => Truncate(reference.Uri.LocalPath);

    protected override Task TruncateRecordAsync(string runId, string name) =>
        Truncate(Path.Combine(_store.Root, runId, "records", name));

    public void Dispose() => Directory.Delete(_store.Root, recursive: true);

    private static async Task Truncate(string path)
    {
        byte[] bytes = await File.ReadAllBytesAsync(path);
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length / 2)]);
    }
}
