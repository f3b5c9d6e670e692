using Grid.Policy.Qwen;
using static TorchSharp.torch;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenVisionTowerTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    [Theory]
    [MemberData(nameof(QwenReferenceCases.WithImage), MemberType = typeof(QwenReferenceCases))]
    public void Patch_embedding_every_block_and_the_merger_match_transformers(string family, string name)
    {
        var c = QwenReference.Case(family, name);
        var model = QwenReference.Checkpoint(family).Model;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var trace = new QwenVisionTrace();

        var merged = model.EncodeImages(tensor(c.PixelValues!, [c.PixelValues!.Length / 1176, 1176]), [c.Grid!.Value], trace);

        var differences = new List<double> { Difference(trace.PatchEmbed!, c.PatchEmbed!) };
        Assert.Equal(c.Blocks.Count, trace.Blocks.Count);
        differences.AddRange(trace.Blocks.Zip(c.Blocks, Difference));
        differences.Add(Difference(merged, c.Merger!));
        output.WriteLine($"{family} {name}: max |diff| patch_embed, blocks..., merger = {string.Join(", ", differences.Select(d => d.ToString("E2")))}");
        Assert.All(differences, d => Assert.InRange(d, 0, Tolerance));
        if (c.WindowIndex is not null)
        {
            Assert.Equal(c.WindowIndex, trace.WindowIndex);
        }
        else
        {
            Assert.Null(trace.WindowIndex);
        }
    }

    private static double Difference(Tensor actual, ReferenceTensor expected)
    {
        Assert.Equal(expected.Shape, actual.shape);
        return QwenReference.MaxAbsDifference(actual.contiguous().data<float>().ToArray(), expected.Data);
    }
}
