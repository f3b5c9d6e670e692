using Grid.Hosting.Placement;

namespace Grid.Hosting.Tests.Placement;

public sealed class LearnerKeyTests
{
    [Theory]
    [InlineData("run-42", false, null, "run-42")]
    [InlineData("run-42", true, null, "run-42|cpu-ok")]
    [InlineData("run-42", false, 3, "run-42/3")]
    [InlineData("run-42", true, 3, "run-42/3|cpu-ok")]
    public void Keys_follow_runId_shard_cpu_ok_and_parse_back(string runId, bool allowCpu, int? shard, string key)
    {
        Assert.Equal(key, LearnerKey.Create(runId, allowCpu, shard));
        Assert.Equal(new LearnerKey(runId, shard, allowCpu), LearnerKey.Parse(key));
        Assert.Equal(allowCpu, LearnerKey.AllowsCpuLearner(key));
    }

    [Fact]
    public void A_run_id_that_would_break_the_key_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => LearnerKey.Create("run|cpu-ok"));

        Assert.Contains("'run|cpu-ok'", error.Message);
    }
}
