-- Argo CD health for champion.dev/GPUPool: its Ready condition (nodes found).
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      if c.status == "True" then return {status = "Healthy", message = c.message} end
      return {status = "Degraded", message = c.message}
    end
  end
end
return {status = "Progressing", message = "Waiting for the operator to count the pool"}
