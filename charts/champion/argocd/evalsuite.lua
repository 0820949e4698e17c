-- Argo CD health for champion.dev/EvalSuite: its Valid condition, then the last run.
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Valid" then
      if c.status ~= "True" then return {status = "Degraded", message = c.message} end
      if obj.status.passed == false then
        return {status = "Degraded", message = "last run failed with score " .. tostring(obj.status.score)}
      end
      return {status = "Healthy", message = c.message}
    end
  end
end
return {status = "Progressing", message = "Waiting for the operator to validate the suite"}
