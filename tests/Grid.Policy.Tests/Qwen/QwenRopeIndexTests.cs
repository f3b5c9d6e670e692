using Grid.Policy.Qwen;

namespace Grid.Policy.Tests.Qwen;

public sealed class QwenRopeIndexTests
{
    [Theory]
    [MemberData(nameof(QwenReferenceCases.All), MemberType = typeof(QwenReferenceCases))]
    public void Positions_and_delta_equal_transformers_get_rope_index(string family, string name)
    {
        var c = QwenReference.Case(family, name);
        var config = QwenReference.Checkpoint(family).Config;

        var (positions, delta) = QwenRopeIndex.Compute(config, c.InputIds, c.Grid is { } grid ? [grid] : []);

        Assert.Equal(c.PositionIds, positions);
        Assert.Equal(c.RopeDelta, delta);
    }

    [Theory]
    [MemberData(nameof(QwenReferenceCases.All), MemberType = typeof(QwenReferenceCases))]
    public void Left_padding_gets_position_one_and_lowers_the_delta_by_its_length(string family, string name)
    {
        const int pad = 3;
        var c = QwenReference.Case(family, name);
        var config = QwenReference.Checkpoint(family).Config;
        int[] ids = [.. Enumerable.Repeat(config.EosTokenIds[0], pad), .. c.InputIds];
        bool[] mask = [.. Enumerable.Repeat(false, pad), .. Enumerable.Repeat(true, c.InputIds.Length)];

        var (positions, delta) = QwenRopeIndex.Compute(config, ids, c.Grid is { } grid ? [grid] : [], mask);

        for (int axis = 0; axis < 3; axis++)
        {
            Assert.Equal([1, 1, 1, .. c.PositionIds[axis]], positions[axis]);
        }

        Assert.Equal(c.RopeDelta - pad, delta);
    }

    [Fact]
    public void Text_after_an_image_continues_from_the_largest_image_position()
    {
        var config = QwenReference.Checkpoint(QwenReference.Qwen2VL).Config;
        int[] ids = [7, config.VisionStartTokenId, .. Enumerable.Repeat(config.ImageTokenId, 6), config.VisionEndTokenId, 8];

        var (positions, delta) = QwenRopeIndex.Compute(config, ids, [(1, 4, 6)]);

        Assert.Equal([0, 1, 2, 2, 2, 2, 2, 2, 5, 6], positions[0]);
        Assert.Equal([0, 1, 2, 2, 2, 3, 3, 3, 5, 6], positions[1]);
        Assert.Equal([0, 1, 2, 3, 4, 2, 3, 4, 5, 6], positions[2]);
        Assert.Equal(7 - ids.Length, delta);
    }

    [Fact]
    public void Video_tokens_are_refused()
    {
        var config = QwenReference.Checkpoint(QwenReference.Qwen2VL).Config;
        int[] ids = [config.VisionStartTokenId, config.VideoTokenId, config.VisionEndTokenId];

        var e = Assert.Throws<NotSupportedException>(() => QwenRopeIndex.Compute(config, ids, []));

        Assert.Contains("video", e.Message);
    }

    [Fact]
    public void Grids_that_disagree_with_the_images_in_the_input_are_refused()
    {
        var config = QwenReference.Checkpoint(QwenReference.Qwen2VL).Config;
        int[] ids = [config.VisionStartTokenId, .. Enumerable.Repeat(config.ImageTokenId, 4), config.VisionEndTokenId];

        var e = Assert.Throws<ArgumentException>(() => QwenRopeIndex.Compute(config, ids, [(1, 4, 4), (1, 4, 4)]));

        Assert.Contains("1 images", e.Message);
        Assert.Contains("2 image grids", e.Message);
    }
}
